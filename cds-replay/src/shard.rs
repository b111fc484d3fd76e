//! Which patients a run takes (`--shard i/n`) and which bucket a patient's resources go to:
//! both from a stable hash of the patient key, the same on every machine and run.

use std::fmt;
use std::str::FromStr;

/// FNV-1a 64 of the key, finished with splitmix64 so that all bits mix.
fn hash(key: &str, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The bucket (of `buckets`) that a patient's resources are partitioned into.
pub(crate) fn bucket_of(key: &str, buckets: usize) -> usize {
    (hash(key, 0x6275_636b_6574) % buckets.max(1) as u64) as usize
}

/// A deterministic slice of the patients: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// All patients.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// True when the patient with this key belongs to this shard.
    pub fn holds(&self, key: &str) -> bool {
        self.count <= 1
            || hash(key, 0x0073_6861_7264) % u64::from(self.count) == u64::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/n` with `0 <= i < n`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a shard: write i/n with 0 <= i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_is_stable() {
        // Shard membership must not change between releases or machines.
        assert_eq!(hash("p1", 0), 6_558_664_879_882_606_012);
    }

    proptest! {
        #[test]
        fn every_patient_is_in_exactly_one_shard(key in "[A-Za-z0-9.-]{1,64}", n in 1u32..9) {
            let holders = (0..n).filter(|&i| Shard { index: i, count: n }.holds(&key)).count();
            prop_assert_eq!(holders, 1);
        }

        #[test]
        fn buckets_are_in_range(key in ".{0,40}", b in 1usize..300) {
            prop_assert!(bucket_of(&key, b) < b);
        }
    }
}
