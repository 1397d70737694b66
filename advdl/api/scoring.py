"""Quality of generated images without ImageNet weights: a classifier trained on the same dataset
(the run setting ``scorer``, ``cnn`` by default, trained once per dataset by
``advdl.datasets.generative.scorer_for``) gives the features and the class probabilities.

- Frechet distance between the Gaussians fitted to penultimate features of two image sets;
- KID: the unbiased squared MMD with the cubic polynomial kernel, averaged over subsets;
- classifier score (Inception-score style): exp(E_x KL(p(y|x) || p(y)));
- label accuracy of conditional samples: the share the classifier assigns to the asked label.
The floor is the same distances between real training and held-out images.
"""

import numpy as np

KID_SUBSETS, KID_SUBSET_SIZE = 10, 500


def sqrtm_psd(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2), on feature rows."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = sqrtm_psd(cov_a)
    cross = sqrtm_psd(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross))


def kernel_inception_distance(a, b, seed=0):
    """Mean over subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3."""
    rng, d = np.random.default_rng(seed), a.shape[1]
    size = min(KID_SUBSET_SIZE, len(a), len(b))
    estimates = []
    for _ in range(KID_SUBSETS):
        x, y = a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = size * (size - 1)
        estimates.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
    return float(np.mean(estimates))


def classifier_score(probs):
    marginal = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + 1e-12) - np.log(marginal + 1e-12))).sum(1)
    return float(np.exp(kl.mean()))


def code_agreement(codes, predicted, k):
    """(share, mapping) of the best one-to-one mapping of ``k`` discrete codes to ``k`` classes:
    ``mapping[code]`` is the class, ``share`` the fraction of samples whose mapped code equals the
    classifier's ``predicted`` class (exact, by dynamic programming over subsets of classes)."""
    counts = np.zeros((k, k), np.int64)
    np.add.at(counts, (np.asarray(codes), np.asarray(predicted)), 1)
    best = {0: (0, ())}  # used classes (bit mask) -> (matches, classes of codes 0..i-1)
    for code in range(k):
        nxt = {}
        for used, (matches, chosen) in best.items():
            for cls in range(k):
                if not used >> cls & 1:
                    candidate = (matches + counts[code, cls], chosen + (cls,))
                    if candidate[0] > nxt.get(used | 1 << cls, (-1,))[0]:
                        nxt[used | 1 << cls] = candidate
        best = nxt
    matches, mapping = best[(1 << k) - 1]
    return float(matches / max(len(codes), 1)), list(mapping)


class Scorer:
    """Features and class probabilities of images (uint8 or float in [0, 1]) from a trained classifier."""

    def __init__(self, model_path):
        from advdl.api.backend import import_tensorflow

        _, keras = import_tensorflow()
        model = keras.models.load_model(model_path, compile=False, safe_mode=True)
        self.model = keras.Model(model.inputs[0], [model.layers[-1].input, model.outputs[0]])

    def __call__(self, images, batch=1000):
        features, probs = [], []
        for i in range(0, len(images), batch):
            chunk = np.asarray(images[i:i + batch])
            chunk = chunk.astype(np.float32) / 255.0 if chunk.dtype == np.uint8 else chunk.astype(np.float32)
            f, p = self.model(chunk, training=False)
            features.append(np.asarray(f).reshape(len(chunk), -1))
            probs.append(np.asarray(p))
        return np.concatenate(features).astype(np.float64), np.concatenate(probs).astype(np.float64)


def score(scorer, images, real_test, labels=None, real_train=None):
    """Scores of generated ``images`` against held-out ``real_test`` images; with ``labels`` (the
    asked classes) the label accuracy; with ``real_train`` the floor (real against real)."""
    fake_features, fake_probs = scorer(images)
    test_features, _ = scorer(real_test)
    result = {"frechet_distance": frechet_distance(fake_features, test_features),
              "kid": kernel_inception_distance(fake_features, test_features),
              "classifier_score": classifier_score(fake_probs), "samples": len(images)}
    if labels is not None:
        result["label_accuracy"] = float((fake_probs.argmax(1) == np.asarray(labels)).mean())
    if real_train is not None:
        train_features, train_probs = scorer(real_train)
        result["floor"] = {"frechet_distance": frechet_distance(train_features, test_features),
                           "kid": kernel_inception_distance(train_features, test_features),
                           "classifier_score": classifier_score(train_probs)}
    return result
