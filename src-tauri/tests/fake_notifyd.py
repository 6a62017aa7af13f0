#!/usr/bin/python3
"""A test notification server: owns org.freedesktop.Notifications on the session bus.

Records every Notify and CloseNotification call as a JSON line (with a wall-clock time `t`) in
$NOTIFY_LOG. Tests "click" a button with the extra method com.example.FakeNotifyd.InvokeAction,
which emits ActionInvoked then NotificationClosed(reason 2), as a real server does:

  gdbus call --session --dest org.freedesktop.Notifications \
    --object-path /org/freedesktop/Notifications \
    --method com.example.FakeNotifyd.InvokeAction 1 approve:ID

Needs the system python3 with python3-dbus and python3-gi. Prints {"event": "ready"} when it owns
the name.
"""
import json
import os
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
TEST_IFACE = "com.example.FakeNotifyd"


def log(rec):
    rec["t"] = time.time()
    line = json.dumps(rec)
    path = os.environ.get("NOTIFY_LOG")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    print(line, flush=True)


class Server(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, PATH)
        self.next_id = 1

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(IFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("fake-notifyd", "airlock-tests", "1.0", "1.2")

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, timeout):
        nid = int(replaces_id) or self.next_id
        self.next_id = max(self.next_id, nid) + 1
        acts = [str(a) for a in actions]
        log({"event": "Notify", "id": nid, "replaces_id": int(replaces_id),
             "app_name": str(app_name), "summary": str(summary), "body": str(body),
             "actions": dict(zip(acts[0::2], acts[1::2])), "timeout": int(timeout),
             "urgency": int(hints.get("urgency", 1))})
        return dbus.UInt32(nid)

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        log({"event": "CloseNotification", "id": int(nid)})
        self.NotificationClosed(dbus.UInt32(nid), dbus.UInt32(3))

    @dbus.service.method(TEST_IFACE, in_signature="us", out_signature="")
    def InvokeAction(self, nid, key):
        log({"event": "ActionInvoked", "id": int(nid), "key": str(key)})
        self.ActionInvoked(dbus.UInt32(nid), str(key))
        self.NotificationClosed(dbus.UInt32(nid), dbus.UInt32(2))

    @dbus.service.signal(IFACE, signature="us")
    def ActionInvoked(self, nid, key):
        pass

    @dbus.service.signal(IFACE, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass


if __name__ == "__main__":
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
    Server(bus)
    log({"event": "ready"})
    GLib.MainLoop().run()
