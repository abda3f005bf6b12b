"""Scores of a classifier's logits on labelled clips, all from scikit-learn.

Accuracy alone (the paper's measure) hides how a model does on its weak classes, and on UCF101 and
HMDB51 the classes are not balanced; mean class accuracy and macro F1 show what accuracy averages
away. Every score runs over all classes of ``classes.txt`` (``labels=range(K)``), so a class the
model never predicts counts as zero rather than vanishing from the averages.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def one_vs_rest_auc(labels: np.ndarray, probabilities: np.ndarray) -> list[float | None]:
    """ROC AUC of each class against the rest; None where the test clips hold only one side."""
    aucs = []
    for k in range(probabilities.shape[1]):
        positive = labels == k
        if positive.all() or not positive.any():
            aucs.append(None)
        else:
            aucs.append(float(metrics.roc_auc_score(positive, probabilities[:, k])))
    return aucs


def classification_metrics(labels: np.ndarray, logits: np.ndarray, classes: list[str]) -> dict:
    """Top-1/top-5 and mean class accuracy, macro and weighted P/R/F1, per-class report, AUCs,
    and the confusion matrix (rows: true class, columns: predicted), as plain JSON values."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = softmax(logits)
    predictions = probabilities.argmax(axis=1)
    every = np.arange(len(classes))
    recall_per_class = metrics.recall_score(labels, predictions, labels=every, average=None, zero_division=0)
    present = np.isin(every, labels)
    result = {
        "top1_accuracy": float(metrics.accuracy_score(labels, predictions)),
        # with 5 classes or fewer every clip is a top-5 hit (scikit-learn warns and says the same)
        "top5_accuracy": 1.0 if len(classes) <= 5 else float(
            metrics.top_k_accuracy_score(labels, probabilities, k=5, labels=every)),
        # the share of each class's clips got right, averaged over the classes that have test clips
        "mean_class_accuracy": float(recall_per_class[present].mean()),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            labels, predictions, labels=every, average=average, zero_division=0)
        result.update({f"{average}_precision": float(precision), f"{average}_recall": float(recall),
                       f"{average}_f1": float(f1)})
    aucs = one_vs_rest_auc(labels, probabilities)
    known = [auc for auc in aucs if auc is not None]
    result["macro_roc_auc"] = float(np.mean(known)) if known else None
    report = metrics.classification_report(labels, predictions, labels=every, target_names=classes,
                                           output_dict=True, zero_division=0)
    result["per_class"] = {
        name: {"precision": float(report[name]["precision"]), "recall": float(report[name]["recall"]),
               "f1": float(report[name]["f1-score"]), "support": int(report[name]["support"]), "roc_auc": auc}
        for name, auc in zip(classes, aucs)
    }
    result["confusion_matrix"] = metrics.confusion_matrix(labels, predictions, labels=every).tolist()
    return result
