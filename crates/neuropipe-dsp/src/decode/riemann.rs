//! Riemannian geometry of covariance matrices, as pyRiemann 0.12 computes it: matrix
//! functions through the symmetric eigendecomposition, the affine-invariant distance, the
//! Riemannian (Karcher) mean and the tangent-space map — the kernels of `Mdm` and
//! `TangentSpace`.
//!
//! | here | pyRiemann |
//! |---|---|
//! | [`Spd::apply`] | `_matrix_operator` (`sqrtm`, `invsqrtm`, `logm`, `expm`): `V f(Λ) Vᵀ` from `eigh` |
//! | [`Spd::distance`] | `distance_riemann(A, B)`: `√Σ ln² λᵢ`, λ the eigenvalues of `B^-½ A B^-½` (pyRiemann solves the generalised problem `eigvalsh(A, B)`: the same values) |
//! | [`mean_riemann`] | `mean_riemann(X, tol=10e-9, maxiter=50)`: the same gradient descent, step size rule and stopping test, from the arithmetic mean |
//! | [`Spd::tangent_vector`] | `tangent_space(X, Cref)` = `upper(logm(Cref^-½ X Cref^-½))`: the upper triangle row by row, off-diagonal entries times √2 |
//!
//! The eigendecomposition is Householder tridiagonalisation followed by implicit-shift QL
//! (EISPACK's `tred2`/`tql2`), backward stable like LAPACK's `dsyevd` behind `numpy`'s
//! `eigh`. It reads the lower triangle (as `eigh` does by default) and works in a [`Spd`]
//! workspace sized once, so the on-line kernels allocate nothing.
//! Matrices are `n × n`, row-major, in `f64`.

/// Why a set of matrices cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RiemannError {
    /// A matrix has an eigenvalue that is not positive (or not finite): it is no covariance
    /// matrix of full rank, and its logarithm does not exist.
    #[error("matrix {index} is not positive definite (eigenvalue {eigenvalue:e}): a covariance of channels that are linearly dependent (average reference, a bridged or flat channel) or of fewer frames than channels; use a shrinkage estimator (lwf, oas) or fewer channels")]
    NotPositiveDefinite {
        /// Position of the matrix in the set.
        index: usize,
        /// Its smallest eigenvalue.
        eigenvalue: f64,
    },
    /// The data are not a whole number of `n × n` matrices, or there are none.
    #[error("{0}")]
    Shape(String),
}

/// Workspace for `n × n` symmetric matrices: everything the matrix functions need, allocated
/// once by [`Spd::new`].
#[derive(Debug, Clone)]
pub struct Spd {
    n: usize,
    /// Scratch of the tridiagonal reduction.
    e: Vec<f64>,
    /// Eigenvectors, column `k` = vector `k` (row-major `n × n`).
    v: Vec<f64>,
    /// Eigenvalues.
    w: Vec<f64>,
    /// Scratch for products.
    t: Vec<f64>,
    /// Scratch for a second product.
    u: Vec<f64>,
}

impl Spd {
    /// A workspace for `n × n` matrices.
    pub fn new(n: usize) -> Spd {
        Spd {
            n,
            e: vec![0.0; n],
            v: vec![0.0; n * n],
            w: vec![0.0; n],
            t: vec![0.0; n * n],
            u: vec![0.0; n * n],
        }
    }

    /// Eigenvalues and eigenvectors of the symmetric matrix whose lower triangle `m` holds.
    fn eigh(&mut self, m: &[f64], vectors: bool) {
        let n = self.n;
        for i in 0..n {
            for j in 0..=i {
                self.v[i * n + j] = m[i * n + j];
                self.v[j * n + i] = m[i * n + j];
            }
        }
        tridiagonal_ql(&mut self.v, &mut self.w, &mut self.e, n, vectors);
    }

    /// Eigenvalues and eigenvectors of symmetric `m`: the values, and the vectors as rows
    /// (`n × n`, vector `k` at `k n..(k + 1) n`), in matching order.
    pub fn eigen(&mut self, m: &[f64]) -> (&[f64], &[f64]) {
        self.eigh(m, true);
        (&self.w, &self.v)
    }

    /// The eigenvalues of symmetric `m` (in no particular order).
    pub fn eigenvalues(&mut self, m: &[f64]) -> &[f64] {
        self.eigh(m, false);
        &self.w
    }

    /// `out = V f(Λ) Vᵀ`: the matrix function `f` of symmetric `m` (`sqrt`, `ln`, `exp`, …).
    pub fn apply(&mut self, m: &[f64], f: impl Fn(f64) -> f64, out: &mut [f64]) {
        self.eigh(m, true);
        self.rebuild(&f, out);
    }

    /// `out = V f(Λ) Vᵀ` from the last decomposition.
    fn rebuild(&mut self, f: &impl Fn(f64) -> f64, out: &mut [f64]) {
        let n = self.n;
        out.fill(0.0);
        for (k, w) in self.w.iter().enumerate() {
            let fk = f(*w);
            let vk = &self.v[k * n..(k + 1) * n];
            for (i, &vki) in vk.iter().enumerate() {
                let a = vki * fk;
                for (o, &vkj) in out[i * n..(i + 1) * n].iter_mut().zip(vk) {
                    *o += a * vkj;
                }
            }
        }
    }

    /// `√m` into `sqrt` and `m^-½` into `inv_sqrt`, from one decomposition; the smallest
    /// eigenvalue if `m` is not positive definite.
    pub fn sqrt_and_inv_sqrt(
        &mut self,
        m: &[f64],
        sqrt: &mut [f64],
        inv_sqrt: &mut [f64],
    ) -> Result<(), f64> {
        self.eigh(m, true);
        self.positive()?;
        self.rebuild(&|x: f64| x.sqrt(), sqrt);
        self.rebuild(&|x: f64| 1.0 / x.sqrt(), inv_sqrt);
        Ok(())
    }

    /// `Ok` if every eigenvalue of the last decomposition is finite and positive beyond
    /// rounding (above `n ε λ_max`: a singular matrix's zero eigenvalue comes out as a
    /// rounding error of either sign), else the offending one.
    fn positive(&self) -> Result<(), f64> {
        let max = self.w.iter().fold(0.0f64, |m, &x| m.max(x));
        let floor = self.n as f64 * f64::EPSILON * max;
        match self.w.iter().find(|&&x| !(x > floor && x.is_finite())) {
            Some(&bad) => Err(bad),
            None => Ok(()),
        }
    }

    /// `out = w x w` for symmetric `w` (the congruence `W X Wᵀ`), in pyRiemann's operation
    /// order `(w @ x) @ w`.
    pub fn congruence(&mut self, w: &[f64], x: &[f64], out: &mut [f64]) {
        let n = self.n;
        matmul(w, x, &mut self.u, n);
        matmul(&self.u, w, out, n);
    }

    /// Diagonalises `w x w` (symmetric `w`); the offending eigenvalue if it is not
    /// positive definite.
    fn eigh_congruence(&mut self, w: &[f64], x: &[f64], vectors: bool) -> Result<(), f64> {
        let n = self.n;
        matmul(w, x, &mut self.u, n);
        matmul(&self.u, w, &mut self.t, n);
        let t = std::mem::take(&mut self.t);
        self.eigh(&t, vectors);
        self.t = t;
        self.positive()
    }

    /// The affine-invariant distance between SPD `x` and the matrix whose inverse square
    /// root is `inv_sqrt_ref`: `√Σ ln² λᵢ(R^-½ X R^-½)`; the offending eigenvalue if `x`
    /// is not positive definite.
    pub fn distance(&mut self, x: &[f64], inv_sqrt_ref: &[f64]) -> Result<f64, f64> {
        self.eigh_congruence(inv_sqrt_ref, x, false)?;
        Ok(self.w.iter().map(|l| l.ln().powi(2)).sum::<f64>().sqrt())
    }

    /// The tangent vector of SPD `x` at the reference whose inverse square root is
    /// `inv_sqrt_ref`: `upper(logm(R^-½ X R^-½))`, `n(n+1)/2` values into `out`; the
    /// offending eigenvalue if `x` is not positive definite.
    pub fn tangent_vector(
        &mut self,
        x: &[f64],
        inv_sqrt_ref: &[f64],
        out: &mut [f64],
    ) -> Result<(), f64> {
        self.eigh_congruence(inv_sqrt_ref, x, true)?;
        let mut log = std::mem::take(&mut self.u);
        self.rebuild(&f64::ln, &mut log);
        upper_into(&log, self.n, out);
        self.u = log;
        Ok(())
    }
}

/// pyRiemann's `upper`: the upper triangle of symmetric `x` row by row, off-diagonal
/// entries weighted by √2 (so the Euclidean norm of the vector is the Frobenius norm of the
/// matrix); `n(n+1)/2` values into `out`.
pub fn upper_into(x: &[f64], n: usize, out: &mut [f64]) {
    let mut k = 0;
    for i in 0..n {
        for j in i..n {
            out[k] = if i == j {
                x[i * n + j]
            } else {
                std::f64::consts::SQRT_2 * x[i * n + j]
            };
            k += 1;
        }
    }
}

/// `out = a b` for `n × n` row-major matrices.
fn matmul(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for i in 0..n {
        let row = &mut out[i * n..(i + 1) * n];
        row.fill(0.0);
        for k in 0..n {
            let aik = a[i * n + k];
            for (o, bkj) in row.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                *o += aik * bkj;
            }
        }
    }
}

/// Eigenvalues (`d`) and, with `vectors`, eigenvectors (the rows of `v`: `v[k n + i]` is
/// component `i` of vector `k`) of the symmetric matrix that `v` holds on entry (full
/// storage, row-major `n × n`): Householder reduction to tridiagonal
/// form, then the QL algorithm with implicit shifts (the EISPACK `tred2`/`tql2` pair, the
/// method of LAPACK's `dsyev` that `numpy.linalg.eigh` calls in spirit: backward stable,
/// eigenvalues accurate to `ε‖A‖`). `e` is scratch of `n`. A matrix holding a non-finite
/// value gets NaN eigenvalues; a QL iteration that does not converge in 30 steps per
/// eigenvalue (never seen on finite input) leaves NaN too, so callers refuse the matrix.
fn tridiagonal_ql(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, vectors: bool) {
    if n == 0 {
        return;
    }
    if v.iter().any(|x| !x.is_finite()) {
        d.fill(f64::NAN);
        return;
    }
    // The reduction walks columns of the lower triangle; on a symmetric matrix it may as
    // well walk rows of the upper one: `at` indexes the transpose, so the inner loops run
    // along contiguous memory and the eigenvectors come out as rows.
    let at = |i: usize, j: usize| j * n + i;
    // Householder reduction (tred2).
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let f = d[i - 1];
            let g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                let f = d[j];
                v[at(j, i)] = f;
                let mut g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    g += v[at(k, j)] * d[k];
                    e[k] += v[at(k, j)] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    if !vectors {
        // The tridiagonal matrix's diagonal, as the accumulation below would leave it.
        for (i, x) in d.iter_mut().enumerate() {
            *x = v[at(i, i)];
        }
    }
    // Accumulate the transformations.
    for i in (0..n - 1).filter(|_| vectors) {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[at(k, i + 1)] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[at(k, i + 1)] * v[at(k, j)];
                }
                for k in 0..=i {
                    v[at(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    if vectors {
        for j in 0..n {
            d[j] = v[at(n - 1, j)];
            v[at(n - 1, j)] = 0.0;
        }
        v[at(n - 1, n - 1)] = 1.0;
    }
    e[0] = 0.0;
    // QL with implicit shifts (tql2).
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iterations = 0;
            loop {
                iterations += 1;
                if iterations > 30 {
                    d.fill(f64::NAN);
                    return;
                }
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in &mut d[l + 2..n] {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    if vectors {
                        let (lo, hi) = v[i * n..(i + 2) * n].split_at_mut(n);
                        for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                            let h = *b;
                            *b = s * *a + c * h;
                            *a = c * *a - s * h;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

/// Checks that `mats` holds `count ≥ 1` whole `n × n` matrices.
fn check_set(mats: &[f64], n: usize) -> Result<usize, RiemannError> {
    if n == 0 || mats.is_empty() || !mats.len().is_multiple_of(n * n) {
        return Err(RiemannError::Shape(format!(
            "{} values are not a set of {n} x {n} matrices",
            mats.len()
        )));
    }
    Ok(mats.len() / (n * n))
}

/// The Riemannian mean of the `n × n` SPD matrices in `mats` (concatenated), exactly as
/// pyRiemann's `mean_riemann(X)` (tolerance 1e-8, at most 50 iterations, starting from the
/// arithmetic mean, the same step-size rule); its second value is the number of iterations.
pub fn mean_riemann(mats: &[f64], n: usize) -> Result<(Vec<f64>, usize), RiemannError> {
    let count = check_set(mats, n)?;
    let nn = n * n;
    let mut spd = Spd::new(n);
    // Every matrix must have a logarithm.
    for (index, m) in mats.chunks_exact(nn).enumerate() {
        spd.eigh(m, false);
        spd.positive()
            .map_err(|eigenvalue| RiemannError::NotPositiveDefinite { index, eigenvalue })?;
    }
    let weight = 1.0 / count as f64;
    let mut mean = vec![0.0; nn];
    for m in mats.chunks_exact(nn) {
        for (a, x) in mean.iter_mut().zip(m) {
            *a += weight * x;
        }
    }
    let (mut m12, mut mm12) = (vec![0.0; nn], vec![0.0; nn]);
    let (mut j, mut c, mut l, mut e, mut tmp) = (
        vec![0.0; nn],
        vec![0.0; nn],
        vec![0.0; nn],
        vec![0.0; nn],
        vec![0.0; nn],
    );
    let mut nu = 1.0f64;
    let mut tau = f64::MAX;
    let tol = 10e-9;
    let mut iterations = 0;
    for _ in 0..50 {
        iterations += 1;
        spd.sqrt_and_inv_sqrt(&mean, &mut m12, &mut mm12)
            .map_err(|eigenvalue| RiemannError::NotPositiveDefinite {
                index: count,
                eigenvalue,
            })?;
        j.fill(0.0);
        for m in mats.chunks_exact(nn) {
            spd.congruence(&mm12, m, &mut c);
            spd.apply(&c, f64::ln, &mut l);
            for (a, x) in j.iter_mut().zip(&l) {
                *a += weight * x;
            }
        }
        for (t, x) in tmp.iter_mut().zip(&j) {
            *t = nu * x;
        }
        spd.apply(&tmp, f64::exp, &mut e);
        spd.congruence(&m12, &e, &mut mean);
        let crit = j.iter().map(|x| x * x).sum::<f64>().sqrt();
        let h = nu * crit;
        if h < tau {
            nu *= 0.95;
            tau = h;
        } else {
            nu *= 0.5;
        }
        if crit <= tol || nu <= tol {
            break;
        }
    }
    Ok((mean, iterations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigendecomposition_reconstructs_and_inverts() {
        let n = 4;
        let m = [
            4.0, 1.0, 0.5, 0.2, 1.0, 3.0, 0.3, 0.1, 0.5, 0.3, 2.0, 0.4, 0.2, 0.1, 0.4, 1.0,
        ];
        let mut spd = Spd::new(n);
        let mut out = vec![0.0; 16];
        spd.apply(&m, |x| x, &mut out);
        for (a, b) in out.iter().zip(&m) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
        let trace: f64 = spd.eigenvalues(&m).iter().sum();
        assert!((trace - 10.0).abs() < 1e-13);
        // sqrt(m)² = m.
        let (mut s, mut is) = (vec![0.0; 16], vec![0.0; 16]);
        spd.sqrt_and_inv_sqrt(&m, &mut s, &mut is).unwrap();
        let mut sq = vec![0.0; 16];
        matmul(&s, &s, &mut sq, n);
        for (a, b) in sq.iter().zip(&m) {
            assert!((a - b).abs() < 1e-13);
        }
        // The distance of a matrix to itself is 0.
        assert!(spd.distance(&m, &is).unwrap() < 1e-13);
    }

    #[test]
    fn indefinite_repeated_and_degenerate_matrices_decompose() {
        // A 20 x 20 symmetric indefinite matrix (a logarithm's kind), a diagonal one with
        // repeated eigenvalues, a 1 x 1, and one with a NaN.
        let n = 20;
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let x = next();
                m[i * n + j] = x;
                m[j * n + i] = x;
            }
        }
        let mut diag = vec![0.0; n * n];
        for i in 0..n {
            diag[i * n + i] = [2.0, -1.0, 2.0, 0.0][i % 4];
        }
        let mut spd = Spd::new(n);
        let mut out = vec![0.0; n * n];
        for a in [&m, &diag] {
            spd.apply(a, |x| x, &mut out);
            let err = out
                .iter()
                .zip(a.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-14, "reconstruction error {err}");
            let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
            let sum: f64 = spd.eigenvalues(a).iter().sum();
            assert!((sum - trace).abs() < 1e-13);
        }
        let mut one = Spd::new(1);
        assert_eq!(one.eigenvalues(&[3.0]), &[3.0]);
        m[5 * n] = f64::NAN; // lower triangle: the part that is read
        assert!(spd.eigenvalues(&m).iter().all(|x| x.is_nan()));
    }

    #[test]
    fn a_singular_matrix_is_refused() {
        let m = [1.0, 1.0, 1.0, 1.0];
        let e = mean_riemann(&m, 2).unwrap_err();
        assert!(matches!(
            e,
            RiemannError::NotPositiveDefinite { index: 0, .. }
        ));
        assert!(e.to_string().contains("shrinkage"));
        assert!(mean_riemann(&[1.0, 0.0, 0.0], 2).is_err());
    }
}
