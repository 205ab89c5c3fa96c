//! Zeros/poles/gain → second-order sections with SciPy's default `'nearest'` pairing.
//!
//! The rule (digital filters): build sections from last to first. Each step takes the remaining
//! pole closest to the unit circle, pairs it with its conjugate (or, for a real pole, the next
//! real pole closest to the unit circle), and gives the section the zero(s) nearest to that pole.
//! The poles nearest the unit circle (the highest-Q ones) therefore end up in the *last*
//! sections, and the overall gain goes into the first section's numerator.

use super::butter::Zpk;
use super::complex::Complex;
use super::{Section, Sos};

/// Converts a digital zpk description to sections, exactly like `scipy.signal.zpk2sos(z, p, k)`.
pub(crate) fn zpk2sos(f: Zpk) -> Sos {
    let Zpk { mut z, mut p, k } = f;
    if z.is_empty() && p.is_empty() {
        return Sos::from_designed(vec![[k, 0.0, 0.0, 1.0, 0.0, 0.0]]);
    }
    // Same number of poles and zeros (extra ones at the origin), and an even count.
    while p.len() < z.len() {
        p.push(Complex::ZERO);
    }
    while z.len() < p.len() {
        z.push(Complex::ZERO);
    }
    let n_sections = p.len().div_ceil(2);
    if p.len() % 2 == 1 {
        p.push(Complex::ZERO);
        z.push(Complex::ZERO);
    }
    // One representative (positive imaginary part) per conjugate pair, then the real roots.
    let mut z = cplxreal(&z);
    let mut p = cplxreal(&p);

    let mut sos = vec![[0.0; 6]; n_sections];
    for si in (0..n_sections).rev() {
        let Some(p1_idx) = idx_worst(&p, |_| true) else {
            break;
        };
        let p1 = p.remove(p1_idx);
        let real_poles_left = p.iter().filter(|r| r.is_real()).count();
        let real_zeros_left = z.iter().filter(|r| r.is_real()).count();

        sos[si] = if p1.is_real() && real_poles_left == 0 {
            // Last real pole: pair with the nearest real zero (plus an origin pole/zero).
            let z1 = take_nearest(&mut z, p1, Which::Real).unwrap_or(Complex::ZERO);
            single_section(&[z1, Complex::ZERO], &[p1, Complex::ZERO])
        } else if p.len() + 1 == z.len()
            && !p1.is_real()
            && real_poles_left == 1
            && real_zeros_left == 1
        {
            // One real pole and one real zero remain for later: this complex pole must take a
            // complex zero pair.
            let z1 = take_nearest(&mut z, p1, Which::Complex).unwrap_or(Complex::ZERO);
            single_section(&[z1, z1.conj()], &[p1, p1.conj()])
        } else {
            let p2 = if p1.is_real() {
                match idx_worst(&p, |r| r.is_real()) {
                    Some(i) => p.remove(i),
                    None => Complex::ZERO,
                }
            } else {
                p1.conj()
            };
            match take_nearest(&mut z, p1, Which::Any) {
                Some(z1) if !z1.is_real() => single_section(&[z1, z1.conj()], &[p1, p2]),
                Some(z1) => match take_nearest(&mut z, p1, Which::Real) {
                    Some(z2) => single_section(&[z1, z2], &[p1, p2]),
                    None => single_section(&[z1], &[p1, p2]),
                },
                None => single_section(&[], &[p1, p2]),
            }
        };
    }
    for c in &mut sos[0][..3] {
        *c *= k;
    }
    Sos::from_designed(sos)
}

/// Splits roots into one representative per conjugate pair (positive imaginary part, the pair
/// averaged) followed by the real roots, with SciPy's `_cplxreal` ordering and tolerance
/// (`100 * f64::EPSILON` relative). The result is in that order: complex first, then real.
fn cplxreal(roots: &[Complex]) -> Vec<Complex> {
    let tol = 100.0 * f64::EPSILON;
    let mut sorted = roots.to_vec();
    // Stable sort by real part, then by |imag| (like numpy.lexsort).
    sorted.sort_by(|a, b| {
        a.re.total_cmp(&b.re)
            .then_with(|| a.im.abs().total_cmp(&b.im.abs()))
    });
    let is_real = |r: &Complex| r.im.abs() <= tol * r.abs();
    let reals: Vec<Complex> = sorted
        .iter()
        .filter(|r| is_real(r))
        .map(|r| Complex::real(r.re))
        .collect();
    let mut pos: Vec<Complex> = sorted
        .iter()
        .filter(|r| !is_real(r) && r.im > 0.0)
        .copied()
        .collect();
    let mut neg: Vec<Complex> = sorted
        .iter()
        .filter(|r| !is_real(r) && r.im < 0.0)
        .copied()
        .collect();
    // Within runs of (nearly) equal real part, order both halves by |imag| so that pairs line up.
    let mut start = 0;
    while start < pos.len() {
        let mut stop = start + 1;
        while stop < pos.len() && pos[stop].re - pos[stop - 1].re <= tol * pos[stop - 1].abs() {
            stop += 1;
        }
        if stop - start > 1 {
            let by_imag = |a: &Complex, b: &Complex| a.im.abs().total_cmp(&b.im.abs());
            pos[start..stop].sort_by(by_imag);
            if stop <= neg.len() {
                neg[start..stop].sort_by(by_imag);
            }
        }
        start = stop;
    }
    let mut out: Vec<Complex> = pos
        .iter()
        .zip(&neg)
        .map(|(&a, &b)| (a + b.conj()).scale(0.5))
        .collect();
    out.extend(reals);
    out
}

/// Index of the root closest to the unit circle among those accepted by `filter`
/// (first one on ties, like `numpy.argmin`).
fn idx_worst(roots: &[Complex], filter: impl Fn(&Complex) -> bool) -> Option<usize> {
    argmin(roots, filter, |r| (1.0 - r.abs()).abs())
}

#[derive(Clone, Copy)]
enum Which {
    Any,
    Real,
    Complex,
}

/// Removes and returns the root of the requested kind nearest to `to`.
fn take_nearest(roots: &mut Vec<Complex>, to: Complex, which: Which) -> Option<Complex> {
    let accept = |r: &Complex| match which {
        Which::Any => true,
        Which::Real => r.is_real(),
        Which::Complex => !r.is_real(),
    };
    argmin(roots, accept, |r| (*r - to).abs()).map(|i| roots.remove(i))
}

fn argmin(
    roots: &[Complex],
    filter: impl Fn(&Complex) -> bool,
    key: impl Fn(&Complex) -> f64,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, r) in roots.iter().enumerate() {
        if !filter(r) {
            continue;
        }
        let d = key(r);
        match best {
            Some((_, bd)) if d >= bd => {}
            _ => best = Some((i, d)),
        }
    }
    best.map(|(i, _)| i)
}

/// One section from up to two zeros and two poles (gain 1). Polynomials are right-aligned as in
/// SciPy, so fewer zeros than poles means leading zero coefficients (a pure delay).
fn single_section(zeros: &[Complex], poles: &[Complex]) -> Section {
    let b = poly(zeros);
    let a = poly(poles);
    let mut s = [0.0; 6];
    s[3 - b.len()..3].copy_from_slice(&b);
    s[6 - a.len()..6].copy_from_slice(&a);
    s
}

/// Monic polynomial with the given roots, highest power first; real part only (roots come in
/// conjugate pairs or are real, so the imaginary parts vanish).
fn poly(roots: &[Complex]) -> Vec<f64> {
    let mut c = vec![Complex::ONE];
    for &r in roots {
        let mut next = vec![Complex::ZERO; c.len() + 1];
        for (i, &ci) in c.iter().enumerate() {
            next[i] = next[i] + ci;
            next[i + 1] = next[i + 1] + ci * (-r);
        }
        c = next;
    }
    c.iter().map(|v| v.re).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_example() {
        // scipy.signal.zpk2sos([-1, -0.5-0.5j, -0.5+0.5j], [0.75, 0.8+0.1j, 0.8-0.1j], 1)
        let z = vec![
            Complex::real(-1.0),
            Complex::new(-0.5, -0.5),
            Complex::new(-0.5, 0.5),
        ];
        let p = vec![
            Complex::real(0.75),
            Complex::new(0.8, 0.1),
            Complex::new(0.8, -0.1),
        ];
        let sos = zpk2sos(Zpk { z, p, k: 1.0 });
        let want = [
            [1.0, 1.0, 0.5, 1.0, -0.75, 0.0],
            [1.0, 1.0, 0.0, 1.0, -1.6, 0.65],
        ];
        for (got, want) in sos.iter().zip(&want) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        }
    }
}
