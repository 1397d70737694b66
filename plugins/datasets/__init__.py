"""advdl's named image datasets, registered through the same hook a third-party package uses."""

from advdl.api import DatasetSpec, hookimpl


@hookimpl
def advdl_register_datasets(register):
    for name, summary, shape in (
        ("mnist", "MNIST handwritten digits, 28x28 grey, 60,000 + 10,000", (28, 28, 1)),
        ("fashion_mnist", "Fashion-MNIST clothes, 28x28 grey, 60,000 + 10,000", (28, 28, 1)),
        ("cifar10", "CIFAR-10 objects, 32x32 colour, 50,000 + 10,000", (32, 32, 3)),
        ("cifar10_grey", "CIFAR-10 in grey (luminance), made from cifar10 (same split)", (32, 32, 1)),
        ("svhn", "SVHN house-number digits, 32x32 colour, 73,257 + 26,032 (.mat files or svhn.npz)", (32, 32, 3)),
        ("colored_mnist", "MNIST's digits in a bright colour on a dark coloured background, made from mnist "
                          "deterministically (same split)", (28, 28, 3)),
        ("tinted_mnist", "MNIST's digits with the ink in their class's colour on black, made from mnist (same "
                         "split): grey -> colour needs the digit's identity", (28, 28, 3)),
        ("synthetic_mnist", "made on the spot: 10 classes of 28x28 grey patterns, 2,000 + 500 (fast tests)",
         (28, 28, 1)),
        ("synthetic_cifar", "made on the spot: 10 classes of 32x32 colour patterns, 1,000 + 200 (fast tests)",
         (32, 32, 3)),
    ):
        register(DatasetSpec(name=name, loader=f"advdl.datasets.data:{name}", summary=summary, image_shape=shape,
                             scorer_epochs=5 if name.startswith("synthetic") else 0))  # 5: 100% on synthetic digits
