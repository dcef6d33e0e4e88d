//! `--segment I/N`: one share of a run's load, for running it from several machines.

/// One of `count` shares of a run's load (`--segment 2/4` is index 1 of 4): user number
/// and arrival number `k` belong to segment `k mod count`, so segments on machines with
/// different core counts still add up to the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// From 0.
    pub index: u64,
    pub count: u64,
}

impl Default for Segment {
    fn default() -> Segment {
        Segment { index: 0, count: 1 }
    }
}

impl Segment {
    /// `I/N`, I from 1 to N.
    pub fn parse(text: &str) -> Result<Segment, String> {
        let bad = || format!("{text:?}: write I/N with I from 1 to N, e.g. 2/4");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (i, n): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if i == 0 || i > n {
            return Err(bad());
        }
        Ok(Segment {
            index: i - 1,
            count: n,
        })
    }

    /// Segment `index` (from 0, as a Kubernetes Indexed Job counts) of `count`.
    pub fn from_index(index: u64, count: u64) -> Result<Segment, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "segment index {index} of {count}: indexes count from 0 and stay below the number of segments"
            ));
        }
        Ok(Segment { index, count })
    }

    /// How many of `0..total` are this segment's.
    pub fn share(&self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}
