//! Constant tables of ITU-T G.722, in the fixed-point scaling of its block descriptions.
//! Names follow the standard's (Q6, ILN, QM4, …) so that each can be checked against the
//! table it comes from.

/// Transmit and receive QMF coefficients h(0)..h(23), scaled by 2^13 (the same filter
/// serves both directions). The filter is symmetric: h(i) = h(23 - i).
///
/// Both QMFs run one 12-tap dot product per phase over a history kept oldest first, so the
/// coefficients are stored in that order: the phase whose newest sample meets h(0) sees
/// h(22), h(20), …, h(0), which by the symmetry is h(1), h(3), …, h(23). The four leading
/// zeros pad the filter to the length of its ring buffer (see `qmf::History`).
pub(super) const QMF_EVEN_OLDEST_FIRST: [i16; 16] = [
    0, 0, 0, 0, -11, 53, -156, 362, -805, 3876, 951, -210, 32, 12, -11, 3,
];

/// The other phase, whose newest sample meets h(1): h(23), h(21), …, h(1), which is
/// h(0), h(2), …, h(22).
pub(super) const QMF_ODD_OLDEST_FIRST: [i16; 16] = [
    0, 0, 0, 0, 3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11,
];

/// QUANTL decision levels of the 6-bit lower sub-band quantizer, indexed by the interval
/// number `mil` 1..=29; the level is multiplied by DETL and shifted by 12. Interval 30 is
/// open-ended, so it has no upper level here.
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// The highest decision level: every unscaled threshold at or above it lands in interval 30.
pub(super) const Q6_MAX: u32 = Q6[29] as u32;

/// QUANTL's interval `mil` (1..=30) for an unscaled threshold `t` in 0..=Q6_MAX: one more
/// than the number of levels Q6[1..=29] at or below `t` (see `adpcm::encode_low`).
const fn quantl_interval(t: u32) -> usize {
    let mut mil = 1;
    while mil < 30 && Q6[mil] <= t as i32 {
        mil += 1;
    }
    mil
}

/// QUANTL output code `IL` for a negative difference signal, by interval `mil` 0..=30
/// (entry 31 is never used; it makes the table a power of two long).
const ILN: [u8; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];

/// QUANTL output code `IL` for a non-negative difference signal, by interval `mil` 0..=30
/// (entry 31 is never used).
const ILP: [u8; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];

/// QUANTL output code `IL` for an unscaled threshold `t` in 0..=Q6_MAX (see
/// `adpcm::encode_low`), by the sign of the difference signal: `[negative][t]`, ILP or ILN
/// of the interval `t` lies in. One lookup from threshold to code keeps a second dependent
/// lookup off the encoder's critical path, and the sign picks the row by index rather than
/// by a branch (the sign follows the signal, so a branch on it would mispredict half the
/// time).
pub(super) static QUANTL_CODE: [[u8; Q6_MAX as usize + 1]; 2] = {
    let mut table = [[0u8; Q6_MAX as usize + 1]; 2];
    let mut t = 0;
    while t <= Q6_MAX {
        let mil = quantl_interval(t);
        table[0][t as usize] = ILP[mil];
        table[1][t as usize] = ILN[mil];
        t += 1;
    }
    table
};

/// INVQAL: 4-bit inverse quantizer outputs by `IL >> 2`. The predictor and scale factor of
/// both encoder and decoder are driven by this truncated code only, which is what lets the
/// low band drop to 5 or 4 bits (modes 2 and 3) without desynchronising.
pub(super) const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// INVQBL: 6-bit inverse quantizer outputs by the full code `ILR`, used for the decoder's
/// output in mode 1 (64 kbit/s).
pub(super) const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// LOGSCL: maps the 4-bit code `IL >> 2` to the index of its log scale-factor multiplier.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// LOGSCL: log scale-factor multipliers W_L.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// LOGSCL's multiplier by the 4-bit code `IL >> 2`: WL[RL42[i]], one lookup instead of two.
pub(super) const WL_BY_IL4: [i32; 16] = {
    let mut table = [0; 16];
    let mut i = 0;
    while i < 16 {
        table[i] = WL[RL42[i]];
        i += 1;
    }
    table
};

/// QUANTH decision level of the 2-bit higher sub-band quantizer.
pub(super) const Q2: i32 = 564;

/// QUANTH output code `IH` for a negative difference, by interval `mih` 1..=2.
const IHN: [u8; 3] = [0, 1, 0];

/// QUANTH output code `IH` for a non-negative difference, by interval `mih` 1..=2.
const IHP: [u8; 3] = [0, 3, 2];

/// QUANTH output code `IH` by `mih | negative << 2`: the sign picks the entry by index
/// (as in `QUANTL_CODE`).
pub(super) const IH_BY_SIGN: [u8; 8] = [IHP[0], IHP[1], IHP[2], 0, IHN[0], IHN[1], IHN[2], 0];

/// INVQAH: 2-bit inverse quantizer outputs by `IH`.
pub(super) const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// LOGSCH: maps `IH` to the index of its log scale-factor multiplier.
const RH2: [usize; 4] = [2, 1, 2, 1];

/// LOGSCH: log scale-factor multipliers W_H (entries 0 and 3 are never used).
const WH: [i32; 4] = [0, -214, 798, 0];

/// LOGSCH's multiplier by the code `IH`: WH[RH2[ih]], one lookup instead of two.
pub(super) const WH_BY_IH: [i32; 4] = [WH[RH2[0]], WH[RH2[1]], WH[RH2[2]], WH[RH2[3]]];

/// SCALEL/SCALEH: the antilog table, 2^(i/32) scaled by 2^11 (ILB in the block description).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Upper limit of the lower band's log scale factor NBL (LOGSCL).
pub(super) const NBL_MAX: i32 = 18432;
/// Upper limit of the higher band's log scale factor NBH (LOGSCH).
pub(super) const NBH_MAX: i32 = 22528;

/// SCALEL: the scale factor DETL by `NBL >> 6`, the only bits of NBL that SCALEL reads.
/// Precomputed from ILB, so the sample loop does one lookup instead of a lookup, two shifts
/// and a select; the values (32..=32064) fit in 16 bits.
pub(super) static DETL_BY_NB: [u16; (NBL_MAX >> 6) as usize + 1] = scale_table(8);
/// QUANTL's divisor DETL as a reciprocal, by `NBL >> 6` like `DETL_BY_NB`:
/// ceil(2^SHIFT / DETL), so that `x * r >> SHIFT` is `x / DETL` exactly for every x below
/// 2^27. Proof: with r = (2^SHIFT + e) / DETL, 0 <= e < DETL, x * r / 2^SHIFT exceeds x / DETL
/// by x * e / (DETL * 2^SHIFT) < x / 2^SHIFT < 2^-15, while the fraction of x / DETL is at
/// most 1 - 1/DETL, and 1/DETL > 2^-15 because DETL <= 32064. The product fits in 64 bits.
pub(super) static DETL_RECIPROCAL_BY_NB: [u64; (NBL_MAX >> 6) as usize + 1] = {
    let mut table = [0; (NBL_MAX >> 6) as usize + 1];
    let mut i = 0;
    while i < table.len() {
        table[i] = (1u64 << DETL_RECIPROCAL_SHIFT).div_ceil(DETL_BY_NB[i] as u64);
        i += 1;
    }
    table
};
/// See `DETL_RECIPROCAL_BY_NB`: 27 bits of dividend plus 15 of divisor.
pub(super) const DETL_RECIPROCAL_SHIFT: u32 = 42;

/// SCALEH: the scale factor DETH by `NBH >> 6` (8..=32064).
pub(super) static DETH_BY_NB: [u16; (NBH_MAX >> 6) as usize + 1] = scale_table(10);

/// SCALEL (`bias` 8) or SCALEH (10) for every `NB >> 6`: the antilog of the log scale
/// factor, ILB[bits 6..11] shifted by `bias - (NB >> 11)`, times 4.
const fn scale_table<const N: usize>(bias: i32) -> [u16; N] {
    let mut table = [0; N];
    let mut i = 0;
    while i < N {
        let mantissa = ILB[i & 31];
        let shift = bias - (i >> 5) as i32;
        let wd3 = if shift < 0 {
            mantissa << -shift
        } else {
            mantissa >> shift
        };
        table[i] = (wd3 << 2) as u16;
        i += 1;
    }
    table
}
