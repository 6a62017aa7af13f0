// Imported first by main.tsx, before anything that formats numbers at module load (uPlot does).
// WebKitGTK reports `navigator.language` as `c` under LANG=C / C.UTF-8 (Debian containers, CI,
// minimal desktops), and `new Intl.NumberFormat("c")` throws, which would leave the window blank.
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
}

export {};
