//! Durations as people write them in flags and in `.gitops-bot.yaml`: `90s`, `10m`, `1h`,
//! `1m30s`, `0s`, or plain seconds.

use std::time::Duration;

/// `90s`, `10m`, `1h`, `1m30s`, `0s` or plain seconds; zero is allowed (callers that need
/// some time say so).
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 90s, 10m, 1h or 1m30s");
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_spellings() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "m", "10x", "1.5m", "10m5", "-1s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
