"""Every network of the zoo, one module per family; the builders are importable by name.

>>> from cnnzoo.models import resnet50
>>> model = resnet50(num_classes=5)
"""

from cnnzoo.models._base import Stage, ZooModel
from cnnzoo.models.alexnet import AlexNet, AlexNet2012, alexnet, alexnet_2012, alexnet_half
from cnnzoo.models.densenet import (
    CifarDenseNet,
    DenseNet,
    cifar_densenet_bc100,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    densenet264,
)
from cnnzoo.models.googlenet import (
    GoogLeNet,
    GoogLeNet2014,
    GoogLeNetOutputs,
    googlenet,
    googlenet_2014,
)
from cnnzoo.models.lenet import LeNet5, lenet5
from cnnzoo.models.nin import NIN, nin
from cnnzoo.models.resnet import (
    CifarResNet,
    ResNet,
    cifar_resnet20,
    cifar_resnet32,
    cifar_resnet44,
    cifar_resnet56,
    cifar_resnet110,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    seresnet50,
    seresnet101,
    seresnet152,
    wide_resnet50_2,
    wide_resnet101_2,
)
from cnnzoo.models.vgg import (
    VGG,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

__all__ = [
    "Stage", "ZooModel", "AlexNet", "AlexNet2012", "CifarDenseNet", "CifarResNet", "DenseNet", "GoogLeNet", "GoogLeNet2014",
    "GoogLeNetOutputs", "LeNet5", "NIN", "ResNet", "VGG",
    "alexnet", "alexnet_2012", "alexnet_half", "cifar_densenet_bc100", "cifar_resnet20", "cifar_resnet32", "cifar_resnet44",
    "cifar_resnet56", "cifar_resnet110", "densenet121", "densenet161", "densenet169", "densenet201",
    "densenet264", "googlenet", "googlenet_2014", "lenet5", "nin", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "seresnet50", "seresnet101",
    "seresnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "wide_resnet50_2", "wide_resnet101_2",
]
