//! Stratified k-fold cross-validation of a decoder, for `neuropipe train`'s report.
//!
//! Folds are contiguous within each class (the `j`-th of a class's `n_c` samples, in order,
//! goes to fold `⌊j · k / n_c⌋`), so every fold holds each class in proportion and no sample
//! recorded after another is used to predict it within a fold's block: the layout of
//! scikit-learn's `StratifiedKFold(k)` without shuffling, up to how remainders are spread.

use super::lda::{FitError, LdaModel};

/// Predictions of every sample by a model trained on the other folds.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// Number of folds.
    pub folds: usize,
    /// `confusion[true][predicted]`: sample counts.
    pub confusion: Vec<Vec<usize>>,
    /// Two classes: each held-out sample's true class and decision value (for the AUC).
    pub scores: Vec<(u32, f64)>,
}

impl CrossValidation {
    /// Fraction of samples predicted right.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.confusion.iter().flatten().sum();
        let right: usize = (0..self.confusion.len())
            .map(|k| self.confusion[k][k])
            .sum();
        right as f64 / total.max(1) as f64
    }

    /// Mean over classes of the fraction of each class predicted right (chance: 1 / classes,
    /// whatever the class frequencies; plain accuracy of a P300 decoder that always says
    /// "non-target" is 80 % at one target in five).
    pub fn balanced_accuracy(&self) -> f64 {
        let k = self.confusion.len();
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
            .sum::<f64>()
            / k.max(1) as f64
    }

    /// Two classes: the area under the ROC curve of the held-out decision values (the
    /// probability that a class-1 sample scores above a class-0 one, ties counting half;
    /// chance 0.5), the usual figure for P300 detection. `None` with more classes.
    pub fn auc(&self) -> Option<f64> {
        if self.confusion.len() != 2 {
            return None;
        }
        let mut s = self.scores.clone();
        s.sort_by(|a, b| a.1.total_cmp(&b.1));
        // Rank sum of class 1, ties given their mean rank.
        let (mut rank_sum, mut i) = (0.0, 0);
        while i < s.len() {
            let mut j = i;
            while j + 1 < s.len() && s[j + 1].1 == s[i].1 {
                j += 1;
            }
            let mean_rank = (i + j) as f64 / 2.0 + 1.0;
            rank_sum += mean_rank * s[i..=j].iter().filter(|x| x.0 == 1).count() as f64;
            i = j + 1;
        }
        let n1 = s.iter().filter(|x| x.0 == 1).count() as f64;
        let n0 = s.len() as f64 - n1;
        Some((rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0).max(1.0))
    }
}

/// The fold of each sample (see the module docs).
pub fn stratified_folds(y: &[u32], classes: usize, folds: usize) -> Vec<usize> {
    let mut counts = vec![0usize; classes];
    for &l in y {
        counts[l as usize] += 1;
    }
    let mut seen = vec![0usize; classes];
    y.iter()
        .map(|&l| {
            let c = l as usize;
            let f = seen[c] * folds / counts[c];
            seen[c] += 1;
            f
        })
        .collect()
}

/// What a fitted decoder says about one sample: its predicted class and, for two classes,
/// a score that grows with the evidence for class 1 (for the AUC).
pub type Verdict = (usize, f64);

/// Cross-validates a decoder on `x` (`n × p`, row-major) with labels `y`: for each fold,
/// `fit` on the other folds' samples, then `predict` each held-out sample.
pub fn cross_validate<M>(
    x: &[f64],
    p: usize,
    y: &[u32],
    classes: usize,
    folds: usize,
    fit: impl Fn(&[f64], &[u32]) -> Result<M, FitError>,
    mut predict: impl FnMut(&mut M, &[f64]) -> Result<Verdict, FitError>,
) -> Result<CrossValidation, FitError> {
    let mut counts = vec![0usize; classes];
    for &l in y.iter().filter(|&&l| (l as usize) < classes) {
        counts[l as usize] += 1;
    }
    if folds < 2 || counts.iter().any(|&c| c < folds) {
        return Err(FitError::Folds { folds, counts });
    }
    let fold = stratified_folds(y, classes, folds);
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut scores = vec![];
    for f in 0..folds {
        let (mut xt, mut yt) = (vec![], vec![]);
        for ((row, &l), &g) in x.chunks_exact(p).zip(y).zip(&fold) {
            if g != f {
                xt.extend_from_slice(row);
                yt.push(l);
            }
        }
        let mut m = fit(&xt, &yt)?;
        for ((row, &l), &g) in x.chunks_exact(p).zip(y).zip(&fold) {
            if g == f {
                let (class, score) = predict(&mut m, row)?;
                confusion[l as usize][class] += 1;
                if classes == 2 {
                    scores.push((l, score));
                }
            }
        }
    }
    Ok(CrossValidation {
        folds,
        confusion,
        scores,
    })
}

/// Cross-validates shrinkage LDA on `x` (`n × p`, row-major) with labels `y`.
pub fn cross_validate_lda(
    x: &[f64],
    p: usize,
    y: &[u32],
    classes: usize,
    folds: usize,
) -> Result<CrossValidation, FitError> {
    let mut d = vec![];
    cross_validate(
        x,
        p,
        y,
        classes,
        folds,
        |x, y| LdaModel::fit(x, p, y, classes),
        |m, row| {
            d.resize(m.rows(), 0.0);
            m.decision_into(row, &mut d);
            Ok((m.predict(&d), d[0]))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_ranked_right_and_ties_as_half() {
        let cv = |scores: Vec<(u32, f64)>| CrossValidation {
            folds: 2,
            confusion: vec![vec![0; 2]; 2],
            scores,
        };
        // Class-1 scores 3 and 1 against class-0 scores 2 and 0: 3 of 4 pairs right.
        assert_eq!(
            cv(vec![(1, 3.0), (0, 2.0), (1, 1.0), (0, 0.0)]).auc(),
            Some(0.75)
        );
        assert_eq!(cv(vec![(1, 1.0), (0, 1.0)]).auc(), Some(0.5));
    }

    #[test]
    fn folds_hold_each_class_in_proportion() {
        let y: Vec<u32> = (0..50).map(|i| u32::from(i % 5 == 0)).collect();
        let f = stratified_folds(&y, 2, 5);
        for fold in 0..5 {
            let ones = (0..50).filter(|&i| f[i] == fold && y[i] == 1).count();
            let zeros = (0..50).filter(|&i| f[i] == fold && y[i] == 0).count();
            assert_eq!((ones, zeros), (2, 8));
        }
    }

    #[test]
    fn separable_classes_are_found_and_too_few_samples_refused() {
        // Two clusters far apart in 2-D.
        let mut x = vec![];
        let mut y = vec![];
        for i in 0..40 {
            let c = (i % 2) as u32;
            let j = (i * 7 % 13) as f64 * 0.1;
            x.extend_from_slice(&[10.0 * c as f64 + j, -5.0 * c as f64 + 0.3 * j]);
            y.push(c);
        }
        let cv = cross_validate_lda(&x, 2, &y, 2, 5).unwrap();
        assert_eq!(cv.accuracy(), 1.0);
        assert_eq!(cv.confusion, vec![vec![20, 0], vec![0, 20]]);
        assert_eq!(cv.auc(), Some(1.0));
        let err = cross_validate_lda(&x[..8], 2, &y[..4], 2, 5).unwrap_err();
        assert_eq!(
            err,
            FitError::Folds {
                folds: 5,
                counts: vec![2, 2]
            }
        );
    }
}
