//! What a value looks like: random enough to be a secret under a weak name (`key`,
//! `signature`, `code`), or prose.
//!
//! Random tokens are one unbroken run of token characters, mix letter cases or digits, and
//! spread over many distinct characters. Identifiers that share those traits are told apart by
//! shape: UUIDs, plain numbers, hex shorter than 32 characters (a short hash or id), and values
//! with a word in them (`uploads/2024/photo.png`, `Hello_World_2024`).

/// Shortest and longest value taken for a random token.
const MIN_LEN: usize = 16;
const MAX_LEN: usize = 1024;

/// Shannon entropy, in bits per character, below which a value is not random enough.
const MIN_BITS_PER_CHAR: f64 = 3.0;

pub(super) fn looks_random(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < MIN_LEN || b.len() > MAX_LEN || !b.iter().all(|&c| is_token_byte(c)) {
        return false;
    }
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let digit = b.iter().any(u8::is_ascii_digit);
    if !(lower || upper) || is_uuid(b) {
        return false;
    }
    let hex = b.iter().all(u8::is_ascii_hexdigit);
    if hex && b.len() < 32 {
        return false;
    }
    if !hex && usize::from(lower) + usize::from(upper) + usize::from(digit) < 2 {
        return false;
    }
    if has_word(s) {
        return false;
    }
    bits_per_char(b) >= MIN_BITS_PER_CHAR
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A piece between separators that reads as a word: lower case, or one capital then lower case,
/// four letters or more.
fn has_word(s: &str) -> bool {
    s.split(['/', '.', '_', '-', '~']).any(|piece| {
        let p = piece.as_bytes();
        p.len() >= 4
            && p.iter().skip(1).all(u8::is_ascii_lowercase)
            && p.first().is_some_and(u8::is_ascii_alphabetic)
    })
}

fn bits_per_char(b: &[u8]) -> f64 {
    let mut counts = [0u32; 128];
    for &c in b {
        counts[usize::from(c & 0x7f)] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether `text` is lower-case words of prose ("required for all endpoints"), not a credential.
pub(super) fn reads_as_prose(text: &str) -> bool {
    let text = text.trim_end();
    text.contains(' ')
        && text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || matches!(c, b' ' | b'.' | b',' | b'!' | b'?'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_told_from_identifiers_and_words() {
        for random in [
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "a8Kd92jfLq0Zx7Yt",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "4/0AX4XfWh3kQv9Lm2N8pR7sT1uVw",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==",
        ] {
            assert!(looks_random(random), "{random} should look random");
        }
        for not_random in [
            "Enter",
            "550e8400-e29b-41d4-a716-446655440000",
            "3f786850e387550f",
            "1716400000000000000",
            "uploads/2024/05/img_1234.png",
            "Hello_World_2024",
            "orders-updated-event",
            "ABCDEFGHIJKLMNOP",
            "fn main() { println!(\"hi\") }",
            "AAAAAAAAAAAAAAAAAAAA1",
        ] {
            assert!(
                !looks_random(not_random),
                "{not_random} should not look random"
            );
        }
    }
}
