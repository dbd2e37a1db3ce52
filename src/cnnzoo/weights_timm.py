"""Every set of weights timm publishes for an architecture cnnzoo registers: GENERATED, do not edit.

Written by ``python tests/generate_timm_tags.py`` from the pretrained configurations of timm 1.0.31:
86 tags of 23 architectures. tests/test_weights.py fails when the installed timm disagrees;
run the command again then. timm is not imported here (it is a test dependency, not a run-time one).

The registry adds these tags to cnnzoo's own architectures; a tag a family declares itself beside its
builder (torchvision's, with their reported accuracy) wins. ``top1``/``top5`` are timm's ImageNet-1k
validation results (tests/data/timm_results_imagenet.csv, copied from results/results-imagenet.csv of
huggingface/pytorch-image-models at 0173a139a2c66db3a41ebfe1d8ac4fb02483642e), measured at ``crop``; None where
timm lists none. ``crop``/``crop_pct`` are timm's test-time input (``test_input_size``/``test_crop_pct``
where given), ``train_size`` its ``input_size`` when smaller.
"""

from cnnzoo.weights import PretrainedTag

__all__ = ["SKIPPED", "TIMM_TAGS"]

#: ``{model: (PretrainedTag, ...)}``: timm's weights for each cnnzoo architecture, by timm's tag names.
TIMM_TAGS: dict[str, tuple[PretrainedTag, ...]] = {
    "densenet121": (
        PretrainedTag("ra_in1k", hf_hub_id="timm/densenet121.ra_in1k", publisher="timm", license="apache-2.0", top1=76.5, top5=93.368, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet121.tv_in1k", publisher="torchvision", license="apache-2.0", top1=74.764, top5=92.154, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet161": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet161.tv_in1k", publisher="torchvision", license="apache-2.0", top1=77.358, top5=93.642, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet169": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet169.tv_in1k", publisher="torchvision", license="apache-2.0", top1=75.9, top5=93.028, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet201": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet201.tv_in1k", publisher="torchvision", license="apache-2.0", top1=77.286, top5=93.48, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
    ),
    "resnet18": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet18.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a1_0-d63eafa0.pth", publisher="timm", license="apache-2.0", top1=73.158, top5=91.026, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet18.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a2_0-b61bd467.pth", publisher="timm", license="apache-2.0", top1=72.372, top5=90.596, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet18.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a3_0-40c531c8.pth", publisher="timm", license="apache-2.0", top1=68.254, top5=88.176, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnet18.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet18-d92f0530.pth", publisher="facebook", license="cc-by-nc-4.0", top1=72.594, top5=91.418, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnet18.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet18-118f1556.pth", publisher="facebook", license="cc-by-nc-4.0", top1=73.282, top5=91.732, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet18.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet18_v1b-0757602b.pth", publisher="gluoncv", license="apache-2.0", top1=70.838, top5=89.754, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet18.tv_in1k", url="https://download.pytorch.org/models/resnet18-f37072fd.pth", publisher="torchvision", license="bsd-3-clause", top1=69.76, top5=89.07, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnet34": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet34.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a1_0-46f8f793.pth", publisher="timm", license="apache-2.0", top1=77.918, top5=93.766, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet34.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a2_0-82d47d71.pth", publisher="timm", license="apache-2.0", top1=77.158, top5=93.274, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet34.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a3_0-a20cabb6.pth", publisher="timm", license="apache-2.0", top1=72.97, top5=91.108, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("bt_in1k", hf_hub_id="timm/resnet34.bt_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet34-43635321.pth", publisher="timm", license="apache-2.0", top1=76.48, top5=93.354, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet34.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet34_v1b-c6d82d59.pth", publisher="gluoncv", license="apache-2.0", top1=74.578, top5=91.984, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra4_e3600_r224_in1k", hf_hub_id="timm/resnet34.ra4_e3600_r224_in1k", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet34.tv_in1k", url="https://download.pytorch.org/models/resnet34-b627a593.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnet50": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet50.a1_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1_0-14fe96d1.pth", publisher="timm", license="apache-2.0", top1=81.214, top5=95.102, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet50.a1h_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1h2_176-001a1197.pth", publisher="timm", license="apache-2.0", top1=80.676, top5=95.306, accuracy_by="timm", resize=224, crop_pct=1.0, train_size=176, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet50.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a2_0-a2746f79.pth", publisher="timm", license="apache-2.0", top1=80.772, top5=94.988, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet50.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a3_0-59cae1ef.pth", publisher="timm", license="apache-2.0", top1=78.048, top5=93.78, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("am_in1k", hf_hub_id="timm/resnet50.am_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_am-6c502b37.pth", publisher="timm", license="apache-2.0", top1=78.998, top5=94.396, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("b1k_in1k", hf_hub_id="timm/resnet50.b1k_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b1k-532a802a.pth", publisher="timm", license="apache-2.0", top1=80.706, top5=95.432, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("b2k_in1k", hf_hub_id="timm/resnet50.b2k_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b2k-1ba180c1.pth", publisher="timm", license="apache-2.0", top1=80.454, top5=95.318, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("bt_in1k", hf_hub_id="timm/resnet50.bt_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/rw_resnet50-86acaeed.pth", publisher="timm", license="apache-2.0", top1=79.64, top5=94.892, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("c1_in1k", hf_hub_id="timm/resnet50.c1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c1-5ba5e060.pth", publisher="timm", license="apache-2.0", top1=80.912, top5=95.552, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("c2_in1k", hf_hub_id="timm/resnet50.c2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c2-d01e05b2.pth", publisher="timm", license="apache-2.0", top1=80.87, top5=95.534, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("d_in1k", hf_hub_id="timm/resnet50.d_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_d-f39db8af.pth", publisher="timm", license="apache-2.0", top1=80.972, top5=95.43, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnet50.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet50-08389792.pth", publisher="facebook", license="cc-by-nc-4.0", top1=79.234, top5=94.826, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnet50.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet50-16a12f1b.pth", publisher="facebook", license="cc-by-nc-4.0", top1=81.182, top5=95.992, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet50.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1b-0ebe02e2.pth", publisher="gluoncv", license="apache-2.0", top1=77.58, top5=93.718, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra_in1k", hf_hub_id="timm/resnet50.ra_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ra-85ebb6e5.pth", publisher="timm", license="apache-2.0", top1=79.836, top5=94.966, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("ram_in1k", hf_hub_id="timm/resnet50.ram_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ram-a26f946b.pth", publisher="timm", license="apache-2.0", top1=79.976, top5=95.052, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet50.tv2_in1k", url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth", publisher="torchvision", license="bsd-3-clause", top1=80.85, top5=95.434, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet50.tv_in1k", url="https://download.pytorch.org/models/resnet50-0676ba61.pth", publisher="torchvision", license="bsd-3-clause", top1=76.13, top5=92.858, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnet101": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet101.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1_0-cdcb52a9.pth", publisher="timm", license="apache-2.0", top1=82.322, top5=95.632, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet101.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1h-36d3f2aa.pth", publisher="timm", license="apache-2.0", top1=82.778, top5=96.31, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet101.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a2_0-6edb36c7.pth", publisher="timm", license="apache-2.0", top1=82.236, top5=95.73, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet101.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a3_0-1db14157.pth", publisher="timm", license="apache-2.0", top1=79.814, top5=94.606, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet101.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1b-3b017079.pth", publisher="gluoncv", license="apache-2.0", top1=79.31, top5=94.522, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet101.tv2_in1k", url="https://download.pytorch.org/models/resnet101-cd907fc2.pth", publisher="torchvision", license="bsd-3-clause", top1=81.89, top5=95.768, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet101.tv_in1k", url="https://download.pytorch.org/models/resnet101-63fe2227.pth", publisher="torchvision", license="bsd-3-clause", top1=77.376, top5=93.542, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnet152": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet152.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1_0-2eee8a7a.pth", publisher="timm", license="apache-2.0", top1=82.732, top5=95.72, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet152.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1h-dc400468.pth", publisher="timm", license="apache-2.0", top1=83.45, top5=96.538, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet152.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a2_0-b4c6978f.pth", publisher="timm", license="apache-2.0", top1=82.608, top5=95.752, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet152.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a3_0-134d4688.pth", publisher="timm", license="apache-2.0", top1=80.546, top5=95.0, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet152.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1b-c1edb0dd.pth", publisher="gluoncv", license="apache-2.0", top1=79.694, top5=94.736, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet152.tv2_in1k", url="https://download.pytorch.org/models/resnet152-f82ba261.pth", publisher="torchvision", license="bsd-3-clause", top1=82.288, top5=96.004, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet152.tv_in1k", url="https://download.pytorch.org/models/resnet152-394f9c45.pth", publisher="torchvision", license="bsd-3-clause", top1=78.322, top5=94.048, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnext50_32x4d": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnext50_32x4d.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1_0-b5a91a1d.pth", publisher="timm", license="apache-2.0", top1=81.466, top5=95.174, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnext50_32x4d.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1h-0146ab0a.pth", publisher="timm", license="apache-2.0", top1=82.014, top5=95.934, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnext50_32x4d.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a2_0-efc76add.pth", publisher="timm", license="apache-2.0", top1=81.304, top5=95.096, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnext50_32x4d.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a3_0-3e450271.pth", publisher="timm", license="apache-2.0", top1=79.268, top5=94.306, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext50_32x4-ddb3e555.pth", publisher="facebook", license="cc-by-nc-4.0", top1=80.338, top5=95.398, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnext50_32x4d.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext50_32x4-72679e44.pth", publisher="facebook", license="cc-by-nc-4.0", top1=82.174, top5=96.222, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnext50_32x4d.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext50_32x4d-e6a097c1.pth", publisher="gluoncv", license="apache-2.0", top1=79.36, top5=94.43, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra_in1k", hf_hub_id="timm/resnext50_32x4d.ra_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnext50_32x4d_ra-d733960d.pth", publisher="timm", license="apache-2.0", top1=80.698, top5=95.39, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnext50_32x4d.tv2_in1k", url="https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth", publisher="torchvision", license="bsd-3-clause", top1=81.182, top5=95.34, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext50_32x4d.tv_in1k", url="https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth", publisher="torchvision", license="bsd-3-clause", top1=77.618, top5=93.696, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnext101_32x8d": (
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x8-2cfe2f8b.pth", publisher="facebook", license="cc-by-nc-4.0", top1=81.606, top5=96.04, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x8-b4712904.pth", publisher="facebook", license="cc-by-nc-4.0", top1=84.302, top5=97.176, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("fb_wsl_ig1b_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k", url="https://download.pytorch.org/models/ig_resnext101_32x8-c38310e5.pth", publisher="facebook", license="cc-by-nc-4.0", top1=82.698, top5=96.632, accuracy_by="timm", crop_pct=0.875),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnext101_32x8d.tv2_in1k", url="https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth", publisher="torchvision", license="bsd-3-clause", top1=82.832, top5=96.232, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext101_32x8d.tv_in1k", url="https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth", publisher="torchvision", license="bsd-3-clause", top1=79.31, top5=94.52, accuracy_by="timm", crop_pct=0.875),
    ),
    "resnext101_64x4d": (
        PretrainedTag("c1_in1k", hf_hub_id="timm/resnext101_64x4d.c1_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/resnext101_64x4d_c-0d0e0cc0.pth", publisher="timm", license="apache-2.0", top1=83.156, top5=96.374, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnext101_64x4d.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext101_64x4d-f9a8e184.pth", publisher="gluoncv", license="apache-2.0", top1=80.6, top5=94.992, accuracy_by="timm", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext101_64x4d.tv_in1k", url="https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth", publisher="torchvision", license="bsd-3-clause", top1=82.992, top5=96.244, accuracy_by="timm", crop_pct=0.875),
    ),
    "seresnet50": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/seresnet50.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth", publisher="timm", license="apache-2.0", top1=81.102, top5=95.12, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/seresnet50.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a2_0-850de0d9.pth", publisher="timm", license="apache-2.0", top1=81.106, top5=95.222, accuracy_by="timm", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/seresnet50.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a3_0-317ecd56.pth", publisher="timm", license="apache-2.0", top1=77.028, top5=93.074, accuracy_by="timm", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("ra2_in1k", hf_hub_id="timm/seresnet50.ra2_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet50_ra_224-8efdb4bb.pth", publisher="timm", license="apache-2.0", top1=81.284, top5=95.652, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
    ),
    "vgg11": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg11.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=69.022, top5=88.624, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg11_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg11_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=70.382, top5=89.808, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg13": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg13.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=69.932, top5=89.25, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg13_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg13_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=71.588, top5=90.378, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg16": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg16.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=71.592, top5=90.384, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg16_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg16_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=73.37, top5=91.514, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg19": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg19.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=72.378, top5=90.874, accuracy_by="timm", crop_pct=0.875),
    ),
    "vgg19_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg19_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", top1=74.216, top5=91.844, accuracy_by="timm", crop_pct=0.875),
    ),
    "wide_resnet50_2": (
        PretrainedTag("racm_in1k", hf_hub_id="timm/wide_resnet50_2.racm_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/wide_resnet50_racm-8234f177.pth", publisher="timm", license="apache-2.0", top1=82.28, top5=96.064, accuracy_by="timm", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/wide_resnet50_2.tv2_in1k", url="https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth", publisher="torchvision", license="bsd-3-clause", top1=81.606, top5=95.762, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/wide_resnet50_2.tv_in1k", url="https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth", publisher="torchvision", license="bsd-3-clause", top1=78.48, top5=94.086, accuracy_by="timm", crop_pct=0.875),
    ),
    "wide_resnet101_2": (
        PretrainedTag("tv2_in1k", hf_hub_id="timm/wide_resnet101_2.tv2_in1k", url="https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth", publisher="torchvision", license="bsd-3-clause", top1=82.498, top5=96.018, accuracy_by="timm", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/wide_resnet101_2.tv_in1k", url="https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth", publisher="torchvision", license="bsd-3-clause", top1=78.838, top5=94.282, accuracy_by="timm", crop_pct=0.875),
    ),
}

#: timm's tags of these architectures that are left out, and why.
SKIPPED: dict[str, str] = {
    "resnet50.bamboo": "a backbone without a classifier (num_classes=0): cnnzoo loads a tag into create(NAME.TAG)'s classifier model, which these weights do not fill",
}
