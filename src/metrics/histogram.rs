//! Latency histograms in microseconds, serialised losslessly.
//!
//! On disk a histogram is the standard HdrHistogram V2 encoding in base64 (the same
//! format wrk2 and HdrHistogram's log tools read), so merging saved results is exact.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency recorded exactly: 100 s. Slower samples are clamped to it.
const HIGHEST_US: u64 = 100_000_000;

/// A latency histogram: microsecond resolution, 3 significant digits. It grows with
/// the values recorded (an empty one holds no counters; one of values up to 2 ms, 16 KB;
/// up to 100 s, ~147 KB), so an endpoint costs what its data needs; growing happens
/// only on a new maximum, never per request.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new(3).expect("3 significant digits"))
    }
}

impl Latency {
    #[inline]
    pub fn record_us(&mut self, us: u64) {
        // Grows on a new maximum (saturating_record would clamp to the current range).
        // Clamped to 100 s, a value is always within what it can grow to.
        let _ = self.0.record(us.clamp(1, HIGHEST_US));
    }

    /// `n` samples of the same value (an imported histogram's bucket).
    pub fn record_n_us(&mut self, us: u64, n: u64) {
        let _ = self.0.record_n(us.clamp(1, HIGHEST_US), n);
    }

    /// Adds every sample of `other` (exact: bucket counts add).
    pub fn add(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("histograms share bounds");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// Value at a percentile (0–100) in microseconds; 0 when empty.
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.value_at_percentile(p)
    }

    pub fn mean_us(&self) -> f64 {
        self.0.mean()
    }

    pub fn min_us(&self) -> u64 {
        self.0.min()
    }

    pub fn max_us(&self) -> u64 {
        self.0.max()
    }

    /// Fraction of samples at or below `us` microseconds.
    pub fn fraction_at_or_below(&self, us: u64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.count_between(0, us) as f64 / self.0.len() as f64
    }

    /// Every distinct recorded value (µs, highest equivalent) with its count.
    pub fn recorded(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
    }

    /// (percentile, value in µs) pairs along the percentile spectrum, for plots.
    pub fn spectrum(&self) -> Vec<(f64, u64)> {
        self.0
            .iter_quantiles(1)
            .map(|v| (v.quantile_iterated_to() * 100.0, v.value_iterated_to()))
            .collect()
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .expect("writing to a Vec cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Latency, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        Latency::from_v2(&bytes)
    }

    fn from_v2(bytes: &[u8]) -> Result<Latency, String> {
        check_v2_header(bytes)?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
        if h.lowest_equivalent(h.max()) > HIGHEST_US {
            return Err(format!(
                "histogram out of range: a value of {} µs (perfgate records up to {HIGHEST_US})",
                h.max()
            ));
        }
        let mut out = Latency::default();
        out.0
            .add(&h)
            .map_err(|e| format!("histogram out of range: {e:?}"))?;
        Ok(out)
    }
}

/// The V2 header, checked before the hdrhistogram crate reads it (it allocates the
/// declared payload length first: a blob claiming 4 GiB aborted the process). Layout:
/// cookie, payload length, normalizing offset, significant digits (4 bytes each), then
/// lowest, highest (8 each) and a conversion ratio (8): 40 bytes.
fn check_v2_header(bytes: &[u8]) -> Result<(), String> {
    const HEADER: usize = 40;
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let long = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if bytes.len() < HEADER {
        return Err(format!(
            "histogram of {} bytes is shorter than its header",
            bytes.len()
        ));
    }
    let declared = word(4) as usize;
    if declared != bytes.len() - HEADER {
        return Err(format!(
            "histogram declares {declared} bytes of counts but has {}",
            bytes.len() - HEADER
        ));
    }
    let (digits, lowest, highest) = (word(12), long(16), long(24));
    if digits > 5 || lowest < 1 || highest < 2 * lowest || highest > 1 << 62 {
        return Err(format!(
            "histogram bounds are not ones perfgate writes ({digits} digits, {lowest}..{highest})"
        ));
    }
    Ok(())
}

/// A histogram at rest: its V2 encoding, a few hundred bytes for a second of data
/// instead of the ~147 KB of counters a `Latency` holds. The per-second series keeps
/// these, so memory stays flat however long a run lasts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Packed {
    bytes: Vec<u8>,
    count: u64,
}

impl Packed {
    pub fn pack(l: &Latency) -> Packed {
        if l.count() == 0 {
            return Packed::default();
        }
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&l.0, &mut bytes)
            .expect("writing to a Vec cannot fail");
        Packed {
            bytes,
            count: l.count(),
        }
    }

    pub fn unpack(&self) -> Latency {
        if self.bytes.is_empty() {
            return Latency::default();
        }
        Latency::from_v2(&self.bytes).expect("packed from a valid histogram")
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

// A packed histogram is its V2 encoding already: written and read as it is (checked
// when read), not rebuilt and encoded again — per second of a long run, that was most
// of writing and reading its result.
impl Serialize for Packed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.bytes.is_empty() {
            return s.serialize_str(&Latency::default().encode());
        }
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.bytes))
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .map_err(|e| serde::de::Error::custom(format!("histogram is not base64: {e}")))?;
        let count = Latency::from_v2(&bytes)
            .map_err(serde::de::Error::custom)?
            .count();
        Ok(match count {
            0 => Packed::default(),
            _ => Packed { bytes, count },
        })
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Latency::decode(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_exactly() {
        let mut h = Latency::default();
        for us in [1, 7, 150, 151, 99_999, 2_000_000, 500_000_000] {
            h.record_us(us);
        }
        let back = Latency::decode(&h.encode()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.count(), 7);
        assert_eq!(back.max_us(), h.max_us());
    }

    #[test]
    fn packing_is_lossless_and_small() {
        let mut h = Latency::default();
        for i in 0..5_000u64 {
            h.record_us(200 + (i * 37) % 20_000);
        }
        let p = Packed::pack(&h);
        assert_eq!(p.unpack(), h);
        assert_eq!(p.count(), 5_000);
        assert!(p.bytes.len() < 8_000, "{} bytes", p.bytes.len());
        assert_eq!(Packed::default().unpack(), Latency::default());
    }

    #[test]
    fn merge_equals_one_histogram_over_the_union() {
        let (mut a, mut b, mut all) = (Latency::default(), Latency::default(), Latency::default());
        for i in 0..10_000u64 {
            let us = (i * 7919) % 250_000 + 1;
            if i % 3 == 0 {
                a.record_us(us)
            } else {
                b.record_us(us)
            }
            all.record_us(us);
        }
        a.add(&b);
        assert_eq!(a, all);
        for p in [50.0, 95.0, 99.0, 99.9] {
            assert_eq!(a.percentile_us(p), all.percentile_us(p));
        }
    }

    /// Issue 36: histograms that grow with their data give the same percentiles,
    /// merges and encodings as the full-range ones they replace, read histograms those
    /// wrote, and cost what their data needs.
    #[test]
    fn growing_histograms_answer_as_full_range_ones_did() {
        let full = || Histogram::<u64>::new_with_bounds(1, HIGHEST_US, 3).unwrap();
        let (mut old, mut new) = (full(), Latency::default());
        let (mut old_b, mut new_b) = (full(), Latency::default());
        for i in 0..20_000u64 {
            let us = 1 + (i * 7919) % 3_000_000;
            old.record(us).unwrap();
            new.record_us(us);
            let slow = 50_000_000 + i * 13;
            old_b.record(slow).unwrap();
            new_b.record_us(slow);
        }
        old.add(&old_b).unwrap();
        new.add(&new_b);
        for p in [0.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0] {
            assert_eq!(new.percentile_us(p), old.value_at_percentile(p), "p{p}");
        }
        assert_eq!(
            (new.count(), new.min_us(), new.max_us()),
            (old.len(), old.min(), old.max())
        );
        assert_eq!(new.mean_us(), old.mean());
        // A result written before this change reads into the same figures.
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&old, &mut bytes).unwrap();
        let read = Latency::from_v2(&bytes).unwrap();
        assert_eq!(
            read.recorded().collect::<Vec<_>>(),
            new.recorded().collect::<Vec<_>>()
        );
        let again = Latency::decode(&new.encode()).unwrap();
        assert_eq!(
            again.recorded().collect::<Vec<_>>(),
            new.recorded().collect::<Vec<_>>()
        );
        // Memory: nothing before the first value; fast values stay small.
        let mut fast = Latency::default();
        assert!(
            fast.0.distinct_values() <= 4_096,
            "{}",
            fast.0.distinct_values()
        );
        fast.record_us(1_500);
        assert!(
            fast.0.distinct_values() <= 4_096,
            "{}",
            fast.0.distinct_values()
        );
        assert!(full().distinct_values() > 16_000);
        // Values beyond what perfgate records are refused from a file, as before.
        let mut huge = Histogram::<u64>::new(3).unwrap();
        huge.record(HIGHEST_US * 4).unwrap();
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&huge, &mut bytes).unwrap();
        assert!(Latency::from_v2(&bytes)
            .unwrap_err()
            .contains("out of range"));
    }
}
