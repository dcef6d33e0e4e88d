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

/// The segments of one `count`-way split that a result holds: "2/4" for one, "1,3/4" for
/// a merge of some but not all (which `perfgate check` judges as inconclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segments {
    /// From 0, ascending, each once.
    pub have: Vec<u64>,
    pub count: u64,
}

impl Segments {
    /// `I/N` or `I,J,.../N`, each I from 1 to N.
    pub fn parse(text: &str) -> Result<Segments, String> {
        let bad = || format!("{text:?}: write I/N or I,J/N with each I from 1 to N, e.g. 1,3/4");
        let (list, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        let mut have = Vec::new();
        for i in list.split(',') {
            let i: u64 = i.trim().parse().map_err(|_| bad())?;
            if i == 0 || i > count || have.contains(&(i - 1)) {
                return Err(bad());
            }
            have.push(i - 1);
        }
        have.sort_unstable();
        Ok(Segments { have, count })
    }

    /// Adds another result's segments; a segment given twice, or another split, is an error.
    pub fn add(&mut self, other: &Segments) -> Result<(), String> {
        if other.count != self.count {
            return Err(format!(
                "these results mix segments of a {}-way and a {}-way split: merge the segments of one run",
                self.count, other.count
            ));
        }
        for &i in &other.have {
            if self.have.contains(&i) {
                return Err(format!("segment {}/{} is given twice", i + 1, self.count));
            }
            self.have.push(i);
        }
        self.have.sort_unstable();
        Ok(())
    }

    /// The segments not here, as "2/4".
    pub fn missing(&self) -> Vec<Segment> {
        (0..self.count)
            .filter(|i| !self.have.contains(i))
            .map(|index| Segment {
                index,
                count: self.count,
            })
            .collect()
    }
}

impl std::fmt::Display for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.have.iter().map(|i| (i + 1).to_string()).collect();
        write!(f, "{}/{}", list.join(","), self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_sets_parse_add_and_name_what_is_missing() {
        let mut s = Segments::parse("3/4").unwrap();
        s.add(&Segments::parse("1/4").unwrap()).unwrap();
        assert_eq!(s.to_string(), "1,3/4");
        let missing: Vec<String> = s.missing().iter().map(|m| m.to_string()).collect();
        assert_eq!(missing, ["2/4", "4/4"]);
        assert_eq!(Segments::parse(" 1, 3 /4").unwrap(), s);
        assert!(s
            .add(&Segments::parse("3/4").unwrap())
            .unwrap_err()
            .contains("3/4 is given twice"));
        assert!(s
            .add(&Segments::parse("2/3").unwrap())
            .unwrap_err()
            .contains("3-way"));
        for bad in ["0/4", "5/4", "1,1/4", "/4", "1/", "a/4"] {
            assert!(Segments::parse(bad).is_err(), "{bad}");
        }
    }
}
