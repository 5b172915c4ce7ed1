//! Stream positions: where a reader of an endpoint's captures stands.
//!
//! A capture's position is `(xid, seq)`: the id of the transaction that wrote it, then its
//! sequence number. Sequence numbers are taken before commit, so with several writers a capture
//! with a lower number can become visible after one with a higher number; a reader that
//! advanced by `seq` alone would skip it for good. Readers therefore deliver captures in
//! position order and only below the *horizon*, the oldest transaction still running: every
//! transaction below it has finished, so no capture can later appear behind the reader.
//!
//! A position may also carry the snapshot a reader started from ("from now on", or the rows a
//! page already shows): captures visible in that snapshot count as delivered. It is dropped once
//! the reader has passed every transaction the snapshot did not see.
//!
//! Text form (an SSE event id, a saved CLI position): `XID.SEQ`, or `XID.SEQ~XMIN:XMAX:XIP,…`
//! with the snapshot in PostgreSQL's `pg_snapshot` notation.

use std::fmt;
use std::str::FromStr;

/// Most in-progress transactions a position's snapshot may list.
const MAX_XIP: usize = 1024;

/// A PostgreSQL snapshot (`pg_current_snapshot()`): transactions below `xmin` had finished,
/// those from `xmax` on had not started, and those in `xip` were running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub xmin: i64,
    pub xmax: i64,
    pub xip: Vec<i64>,
}

impl Snapshot {
    /// Whether a row written by transaction `xid` (and committed) is visible in the snapshot.
    pub fn sees(&self, xid: i64) -> bool {
        xid < self.xmin || (xid < self.xmax && !self.xip.contains(&xid))
    }
}

/// How far a reader has come: every capture at or before `(xid, seq)`, and every capture
/// visible in `seen`, has been delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub xid: i64,
    pub seq: i64,
    pub seen: Option<Snapshot>,
}

impl Position {
    /// Nothing delivered yet: the stream starts at the first capture.
    pub fn start() -> Self {
        Position {
            xid: 0,
            seq: 0,
            seen: None,
        }
    }

    /// Everything visible in `snapshot` delivered, nothing else.
    pub fn at_snapshot(snapshot: Snapshot) -> Self {
        Position {
            xid: snapshot.xmin - 1,
            seq: i64::MAX,
            seen: Some(snapshot),
        }
        .normalised()
    }

    /// The position after delivering the capture at `(xid, seq)`.
    pub fn after(&self, xid: i64, seq: i64) -> Self {
        Position {
            xid,
            seq,
            seen: self.seen.clone(),
        }
        .normalised()
    }

    /// The position once every capture of the transactions below `horizon` is delivered (never
    /// moves backwards).
    pub fn caught_up_to(&self, horizon: i64) -> Self {
        if (horizon - 1, i64::MAX) <= (self.xid, self.seq) {
            return self.clone();
        }
        self.after(horizon - 1, i64::MAX)
    }

    /// Whether the capture at `(xid, seq)` still has to be delivered.
    pub fn is_before(&self, xid: i64, seq: i64) -> bool {
        (xid, seq) > (self.xid, self.seq) && !self.seen.as_ref().is_some_and(|s| s.sees(xid))
    }

    /// The snapshot says nothing more once every capture after the position belongs to a
    /// transaction it did not see.
    fn normalised(mut self) -> Self {
        if let Some(s) = &self.seen {
            let past = self.xid >= s.xmax
                || (self.xid == s.xmax - 1 && (self.seq == i64::MAX || !s.sees(self.xid)));
            if past {
                self.seen = None;
            }
        }
        self
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.xid, self.seq)?;
        if let Some(s) = &self.seen {
            write!(f, "~{}:{}:", s.xmin, s.xmax)?;
            for (i, x) in s.xip.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{x}")?;
            }
        }
        Ok(())
    }
}

/// A text that is not a stream position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stream position (expected XID.SEQ, as sent in the stream's event ids)")]
pub struct BadPosition;

impl FromStr for Position {
    type Err = BadPosition;

    fn from_str(s: &str) -> Result<Self, BadPosition> {
        let (pos, snapshot) = match s.trim().split_once('~') {
            Some((p, snap)) => (p, Some(snap)),
            None => (s.trim(), None),
        };
        let (xid, seq) = pos.split_once('.').ok_or(BadPosition)?;
        let seen = snapshot.map(parse_snapshot).transpose()?;
        Ok(Position {
            xid: number(xid)?,
            seq: number(seq)?,
            seen,
        }
        .normalised())
    }
}

fn parse_snapshot(s: &str) -> Result<Snapshot, BadPosition> {
    let mut parts = s.splitn(3, ':');
    let xmin = number(parts.next().ok_or(BadPosition)?)?;
    let xmax = number(parts.next().ok_or(BadPosition)?)?;
    let xip_text = parts.next().ok_or(BadPosition)?;
    let xip = if xip_text.is_empty() {
        Vec::new()
    } else {
        xip_text
            .split(',')
            .map(number)
            .collect::<Result<Vec<_>, _>>()?
    };
    if xmin > xmax || xip.len() > MAX_XIP || xip.iter().any(|x| *x < xmin || *x >= xmax) {
        return Err(BadPosition);
    }
    Ok(Snapshot { xmin, xmax, xip })
}

/// A non-negative decimal number without sign or spaces.
fn number(s: &str) -> Result<i64, BadPosition> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadPosition);
    }
    s.parse().map_err(|_| BadPosition)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(xmin: i64, xmax: i64, xip: &[i64]) -> Snapshot {
        Snapshot {
            xmin,
            xmax,
            xip: xip.to_vec(),
        }
    }

    #[test]
    fn a_snapshot_sees_finished_transactions_only() {
        let s = snap(10, 15, &[10, 12]);
        assert!(s.sees(9));
        assert!(!s.sees(10));
        assert!(s.sees(11));
        assert!(!s.sees(12));
        assert!(s.sees(14));
        assert!(!s.sees(15));
    }

    #[test]
    fn positions_round_trip_through_their_text_form() {
        for p in [
            Position::start(),
            Position::start().after(42, 7),
            Position::at_snapshot(snap(10, 15, &[10, 12])),
            Position::at_snapshot(snap(10, 15, &[10, 12])).after(10, 3),
        ] {
            assert_eq!(p.to_string().parse::<Position>(), Ok(p.clone()), "{p}");
        }
        assert_eq!(
            Position::at_snapshot(snap(10, 15, &[10, 12])).to_string(),
            "9.9223372036854775807~10:15:10,12"
        );
    }

    #[test]
    fn a_snapshot_with_nothing_running_is_a_plain_position() {
        assert_eq!(
            Position::at_snapshot(snap(20, 20, &[])),
            Position::start().after(19, i64::MAX)
        );
    }

    #[test]
    fn the_start_snapshot_is_kept_until_the_reader_passes_it() {
        let p = Position::at_snapshot(snap(10, 15, &[10, 12]));
        assert!(p.is_before(10, 1), "running at the start: still to deliver");
        assert!(!p.is_before(11, 1), "already visible at the start");
        assert!(p.is_before(15, 1), "started later");
        let p = p.after(12, 5);
        assert!(p.seen.is_some());
        assert!(
            !p.is_before(13, 1),
            "visible at the start, even after passing 12"
        );
        assert_eq!(p.after(15, 1).seen, None, "past the snapshot's xmax");
        let p = Position::at_snapshot(snap(10, 15, &[14]));
        assert_eq!(
            p.after(14, 1).seen,
            None,
            "the last transaction it did not see"
        );
    }

    #[test]
    fn catching_up_never_moves_backwards() {
        let p = Position::start().after(30, 5);
        assert_eq!(p.caught_up_to(20), p);
        assert_eq!(p.caught_up_to(31), Position::start().after(30, i64::MAX));
    }

    #[test]
    fn malformed_positions_are_refused() {
        for bad in [
            "",
            "12",
            "a.b",
            "-1.2",
            "1.2~",
            "1.2~5:3:",
            "1.2~1:5:7",
            "1.2~1:5:x",
            "+1.2",
            "99999999999999999999.1",
        ] {
            assert_eq!(bad.parse::<Position>(), Err(BadPosition), "{bad:?}");
        }
    }
}
