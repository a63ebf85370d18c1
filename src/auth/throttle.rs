//! Rate limits for logins and registrations, as plain rules over attempt counters (stored in
//! `login_failures`, one fixed window per key, by `storage::throttle`).
//!
//! A login attempt is counted *before* its password is checked, so N parallel guesses get
//! exactly the limit's worth of checks; a login that succeeds takes its attempt back. Three
//! counters per login:
//! - strict, per username and client address (`LOGIN_MAX_FAILURES_PER_USERNAME`, 5): one
//!   attacker gets five guesses per window, and cannot lock the real user out from elsewhere;
//! - loose, per username from anywhere (`LOGIN_MAX_FAILURES_PER_ACCOUNT`, 100): stops guessing
//!   spread over many addresses;
//! - per client address, all usernames (`LOGIN_MAX_FAILURES_PER_ADDRESS`, 50): stops one
//!   address trying many accounts.
//!
//! Registrations count per address (`REGISTRATIONS_PER_ADDRESS` per
//! `REGISTRATION_WINDOW_SECONDS`). An address is an IPv4 address or an IPv6 /64 (one host
//! usually owns a whole /64).

use std::net::IpAddr;

use crate::settings::Settings;
use crate::storage::throttle::Counted;

/// One counter to take an attempt from, and its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub key: String,
    pub max: i64,
}

/// The counters of a login of `username_lower` from `addr`; the strict one first.
pub fn login_limits(s: &Settings, username_lower: &str, addr: &str) -> Vec<Limit> {
    vec![
        Limit {
            key: format!("ua:{username_lower}|{addr}"),
            max: s.login_max_failures_per_username.into(),
        },
        Limit {
            key: format!("u:{username_lower}"),
            max: s.login_max_failures_per_account.into(),
        },
        Limit {
            key: format!("a:{addr}"),
            max: s.login_max_failures_per_address.into(),
        },
    ]
}

/// The counter of registrations from `addr`.
pub fn registration_limit(s: &Settings, addr: &str) -> Limit {
    Limit {
        key: format!("r:{addr}"),
        max: s.registrations_per_address.into(),
    }
}

/// Seconds until the attempt may be retried, when a counter went over its limit.
pub fn retry_after(limits: &[Limit], counted: &[Counted], now: i64, window: i64) -> Option<u64> {
    counted
        .iter()
        .filter(|c| limits.iter().any(|l| l.key == c.key && c.failures > l.max))
        .map(|c| (c.window_start + window - now).max(1) as u64)
        .max()
}

/// The throttling address of a client: IPv4 as is, IPv6 as its /64, anything else as given.
pub fn address(client: &str) -> String {
    match client.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => client.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(address("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address("2001:db8:1:2:bbbb:cccc:dddd:eeee"),
            address("2001:db8:1:2::9"),
            "one /64"
        );
        assert_ne!(address("2001:db8:1:3::1"), address("2001:db8:1:2::1"));
        assert_eq!(address("10.1.2.3"), "10.1.2.3");
        assert_eq!(address("unknown"), "unknown");
    }

    #[test]
    fn over_any_limit_waits_for_that_window() {
        let s = Settings::default();
        let limits = login_limits(&s, "ann", "10.0.0.1");
        let count = |key: &str, failures, window_start| Counted {
            key: key.into(),
            window_start,
            failures,
        };
        let within = [
            count("ua:ann|10.0.0.1", 5, 100),
            count("u:ann", 5, 50),
            count("a:10.0.0.1", 5, 0),
        ];
        assert_eq!(
            retry_after(&limits, &within, 200, 900),
            None,
            "the 5th is allowed"
        );
        let over = [
            count("ua:ann|10.0.0.1", 6, 100),
            count("u:ann", 6, 50),
            count("a:10.0.0.1", 6, 0),
        ];
        assert_eq!(retry_after(&limits, &over, 200, 900), Some(800));
        let account = [count("u:ann", 101, 50)];
        assert_eq!(
            retry_after(&limits, &account, 200, 900),
            Some(750),
            "loose limit"
        );
    }

    #[test]
    fn the_strict_counter_is_per_username_and_address() {
        let s = Settings::default();
        let a = login_limits(&s, "ann", "10.0.0.1");
        let b = login_limits(&s, "ann", "10.0.0.2");
        assert_ne!(
            a[0].key, b[0].key,
            "another address, another strict counter"
        );
        assert_eq!(a[1].key, b[1].key, "one account counter");
    }
}
