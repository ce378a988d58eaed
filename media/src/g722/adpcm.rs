//! The two sub-band ADPCM loops of G.722, named after the blocks of the standard's
//! detailed description (SUBTRA, QUANTL, INVQAL, LOGSCL, …; suffix L or H for the band).
//!
//! Encoder and decoder run the very same state update from the transmitted codes, which is
//! what keeps them in step; the functions here are therefore shared, and only the first and
//! last blocks (quantizing versus reconstructing) differ between the two directions.
//!
//! All arithmetic is the standard's 16-bit fixed point, kept in `i32` with explicit
//! saturation wherever the block description limits a value.

use super::tables::{
    DETH_BY_NB, DETL_BY_NB, DETL_RECIPROCAL_BY_NB, DETL_RECIPROCAL_SHIFT, IH_BY_SIGN, NBH_MAX,
    NBL_MAX, Q2, Q6_MAX, QM2, QM4, QM6, QUANTL_CODE, WH_BY_IH, WL_BY_IL4,
};

/// Limits to the 16-bit two's-complement range, as the standard does after additions.
#[inline]
fn sat(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// Limits a reconstructed sub-band signal to 15 bits (decoder block LIMIT).
#[inline]
fn limit(x: i32) -> i32 {
    x.clamp(-16384, 16383)
}

/// The sign of a 16-bit value as the standard computes it: `x >> 15`, 0 or -1.
#[inline]
fn sign(x: i32) -> i32 {
    x >> 15
}

/// State of one sub-band: its scale factor (blocks 3L/3H) and its adaptive predictor
/// (block 4, common to both bands), plus the quantities derived from them.
///
/// The delay lines are short enough to live in plain fields and small arrays that block 4
/// rewrites whole, which keeps the update in registers. The delayed signals are used only
/// doubled (FILTEP, FILTEZ) or for their sign (UPZERO), so they are stored doubled and
/// limited, as the standard computes them, once per sample instead of once per use.
#[derive(Debug, Clone)]
pub(super) struct Band {
    /// Log scale factor NBL / NBH.
    nb: i32,
    /// Scale factor DETL / DETH, derived from `nb` by SCALEL / SCALEH; never below 8.
    det: i32,
    /// Predictor output SL / SH: the estimate of the next sub-band sample (PREDIC).
    s: i32,
    /// Output of the zero section SZL / SZH (FILTEZ).
    sz: i32,
    /// Reconstructed signal RLT / RH delayed by 1 and 2 samples, doubled (FILTEP's WD1).
    rr: [i32; 2],
    /// Partially reconstructed signal PLT / PH delayed by 1 and 2 samples (PARREC, DELAYA).
    p: [i32; 2],
    /// Pole-section coefficients AL1, AL2 (UPPOL1, UPPOL2).
    a: [i32; 2],
    /// Quantized difference DLT / DH delayed by 1..=6 samples, doubled (FILTEZ's WD1).
    dd: [i32; 6],
    /// Zero-section coefficients BL1..BL6 (UPZERO).
    b: [i32; 6],
}

impl Band {
    /// Reset state: everything zero except the scale factor, which starts at its minimum:
    /// DETL = 32 for the lower band, DETH = 8 for the higher.
    pub(super) const fn new(det: i32) -> Self {
        Self {
            nb: 0,
            det,
            s: 0,
            sz: 0,
            rr: [0; 2],
            p: [0; 2],
            a: [0; 2],
            dd: [0; 6],
            b: [0; 6],
        }
    }

    /// LOGSCL + SCALEL / LOGSCH + SCALEH: leak the log scale factor (factor 127/128), add
    /// the multiplier for the code just sent, limit it to 0..=`max`, and take its antilog
    /// from the band's table (indexed by `NB >> 6`, so `max >> 6` is its last entry). DET
    /// stays within 32..=32064 (low) and 8..=32064 (high).
    #[inline(always)]
    fn adapt_scale<const N: usize>(&mut self, w: i32, max: i32, det_by_nb: &[u16; N]) {
        self.nb = (((self.nb * 127) >> 7) + w).clamp(0, max);
        // The clamp bounds the index by `max >> 6`; the `min` only shows the compiler so.
        self.det = i32::from(det_by_nb[((self.nb >> 6) as usize).min(N - 1)]);
    }

    /// Block 4: feeds the quantized difference `dq` through the adaptive predictor, updating
    /// its coefficients, and leaves the prediction for the next sample in `self.s`.
    #[inline(always)]
    fn block4(&mut self, dq: i32) {
        // RECONS and PARREC.
        let r0 = sat(self.s + dq);
        let p0 = sat(self.sz + dq);

        // UPPOL2: second pole coefficient, sign-sign update with leakage 127/128. The sign
        // comparisons are factors of +1 (same sign) or -1, not branches: the signs follow
        // the signal, so a branch on them would mispredict half the time, and the compiler
        // turns several selects on one condition into such a branch. The standard's WD2 >> 7
        // (WD2 the 16-bit limited 4 * AL1, negated and limited again when the signs agree)
        // is exactly -factor * AL1 >> 5 with AL1 first limited to ±8191: that limit depends
        // on the size of AL1 only, which changes slowly, so its branch predicts well.
        let [a1, a2] = self.a;
        let [p1, p2] = self.p;
        let sg0 = sign(p0);
        let same1 = 1 + 2 * (sg0 ^ sign(p1));
        let same2 = 1 + 2 * (sg0 ^ sign(p2));
        let wd2 = (-same1 * a1.clamp(-8191, 8191)) >> 5;
        let a2 = (wd2 + 128 * same2 + ((a2 * 32512) >> 15)).clamp(-12288, 12288);

        // UPPOL1: first pole coefficient, leakage 255/256, bounded so that the pole pair
        // stays inside the stability triangle (|a1| <= 15/16 - a2). The standard's 16-bit
        // limit of the sum is left out because it cannot act: the previous a1 obeyed the
        // bound, so |a1| <= 27648 and the sum stays below 27648 + 192.
        let bound = 15360 - a2;
        let a1 = (192 * same1 + ((a1 * 32640) >> 15)).clamp(-bound, bound);

        // UPZERO: zero coefficients, sign-sign update against the delayed differences
        // (no step at all when the difference is exactly zero), leakage 255/256. The
        // leakage b * 32640 >> 15 is computed as its exact equivalent b + (-b >> 8), and
        // the standard's 16-bit limit is left out because it cannot act: |b * 255/256| +
        // 128 never leaves the 16-bit range. Both keep the loop in plain SIMD adds.
        let step = if dq == 0 { 0 } else { 128 };
        let sgd = sign(dq);
        let mut b = self.b;
        for (b, &dd) in b.iter_mut().zip(&self.dd) {
            let wd2 = if sign(dd) == sgd { step } else { -step };
            *b = wd2 + *b + ((-*b) >> 8);
        }

        // DELAYA, storing the delayed signals doubled and limited.
        let [d1, d2, d3, d4, d5, _] = self.dd;
        let dd = [sat(dq << 1), d1, d2, d3, d4, d5];
        let rr = [sat(r0 << 1), self.rr[0]];
        self.dd = dd;
        self.b = b;
        self.rr = rr;
        self.p = [p0, p1];
        self.a = [a1, a2];

        // FILTEP: pole section on the reconstructed signal.
        let sp = sat(((a1 * rr[0]) >> 15) + ((a2 * rr[1]) >> 15));

        // FILTEZ: zero section on the quantized differences. Each term is below 2^15 in
        // magnitude, so the sum of six cannot overflow before the final limit.
        let sz: i32 = b.iter().zip(&dd).map(|(&b, &dd)| (b * dd) >> 15).sum();
        self.sz = sat(sz);

        // PREDIC.
        self.s = sat(sp + self.sz);
    }
}

/// Lower sub-band encoder step (blocks 1L-4L): quantizes `xl` to the 6-bit code IL.
#[inline(always)]
pub(super) fn encode_low(band: &mut Band, xl: i32) -> u8 {
    // SUBTRA, then QUANTL on the one's-complement magnitude, as the standard specifies.
    let el = sat(xl - band.s);
    let wd = if el >= 0 { el } else { -(el + 1) };
    // QUANTL picks the interval MIL whose levels floor(Q6 * DETL / 2^12) enclose WD. For
    // integers, WD >= floor(Q6 * DETL / 2^12) exactly when Q6 <= ((WD + 1) * 2^12 - 1) /
    // DETL, so one division and one lookup among the constant levels replace a search
    // through 29 scaled ones, whose data-dependent branches would mispredict. The division
    // is a multiplication by DETL's reciprocal (exact here, see `DETL_RECIPROCAL_BY_NB`):
    // it sits on the loop's critical path, where a divide instruction takes several times
    // as long. The dividend is below 2^27, as the reciprocal requires.
    let dividend = u64::from(((wd.unsigned_abs() + 1) << 12) - 1);
    let reciprocal = DETL_RECIPROCAL_BY_NB[((band.nb >> 6) as usize).min(NBL_MAX as usize >> 6)];
    let threshold = ((dividend * reciprocal) >> DETL_RECIPROCAL_SHIFT) as u32;
    // The masks in this file never change an index (each table covers its index's range);
    // they only let the compiler see that, so the sample loop has no panic path at all.
    let il = QUANTL_CODE[usize::from(el < 0) & 1][threshold.min(Q6_MAX) as usize];
    adapt_low(band, il >> 2);
    il
}

/// Lower sub-band decoder step (blocks 5L-6L, mode 1): reconstructs the sample from the
/// 6-bit code `ilr`.
#[inline(always)]
pub(super) fn decode_low(band: &mut Band, ilr: u8) -> i32 {
    // INVQBL with all six bits, RECONS, LIMIT (whose 15-bit limit subsumes RECONS's 16).
    let dl = (band.det * QM6[usize::from(ilr & 63)]) >> 15;
    let rl = limit(band.s + dl);
    adapt_low(band, (ilr & 63) >> 2);
    rl
}

/// The part of the lower band shared by encoder and decoder: INVQAL on the 4-bit code,
/// LOGSCL, SCALEL and block 4L.
#[inline(always)]
fn adapt_low(band: &mut Band, il4: u8) {
    let il4 = usize::from(il4 & 15);
    let dlt = (band.det * QM4[il4]) >> 15;
    band.adapt_scale(WL_BY_IL4[il4], NBL_MAX, &DETL_BY_NB);
    band.block4(dlt);
}

/// Higher sub-band encoder step (blocks 1H-4H): quantizes `xh` to the 2-bit code IH.
#[inline(always)]
pub(super) fn encode_high(band: &mut Band, xh: i32) -> u8 {
    // SUBTRA, QUANTH.
    let eh = sat(xh - band.s);
    let wd = if eh >= 0 { eh } else { -(eh + 1) };
    let mih = if wd >= (Q2 * band.det) >> 12 { 2 } else { 1 };
    let ih = IH_BY_SIGN[usize::from(eh < 0) << 2 | mih];
    let dh = (band.det * QM2[usize::from(ih & 3)]) >> 15;
    adapt_high(band, ih, dh);
    ih
}

/// Higher sub-band decoder step (blocks 2H-5H): reconstructs the sample from the 2-bit
/// code `ih`.
#[inline(always)]
pub(super) fn decode_high(band: &mut Band, ih: u8) -> i32 {
    let ih = ih & 3;
    let dh = (band.det * QM2[usize::from(ih)]) >> 15;
    let rh = limit(band.s + dh);
    adapt_high(band, ih, dh);
    rh
}

/// The part of the higher band shared by encoder and decoder: LOGSCH, SCALEH and block 4H,
/// given IH and its INVQAH output `dh` (the same value the decoder outputs, since the
/// higher band has no truncated feedback code).
#[inline(always)]
fn adapt_high(band: &mut Band, ih: u8, dh: i32) {
    band.adapt_scale(WH_BY_IH[usize::from(ih & 3)], NBH_MAX, &DETH_BY_NB);
    band.block4(dh);
}
