"""Every set of weights timm publishes for an architecture cnnzoo registers: GENERATED, do not edit.

Written by ``python tests/generate_timm_tags.py`` from the pretrained configurations of timm 1.0.31:
86 tags of 23 architectures. tests/test_weights.py fails when the installed timm disagrees;
run the command again then. timm is not imported here (it is a test dependency, not a run-time one).

The registry adds these tags to cnnzoo's own architectures; a tag a family declares itself beside its
builder (torchvision's, with their reported accuracy) wins. Accuracy is None here: timm's package ships
no results tables. ``crop``/``crop_pct`` are timm's test-time input (``test_input_size``/``test_crop_pct``
where given), ``train_size`` its ``input_size`` when smaller.
"""

from cnnzoo.weights import PretrainedTag

__all__ = ["SKIPPED", "TIMM_TAGS"]

#: ``{model: (PretrainedTag, ...)}``: timm's weights for each cnnzoo architecture, by timm's tag names.
TIMM_TAGS: dict[str, tuple[PretrainedTag, ...]] = {
    "densenet121": (
        PretrainedTag("ra_in1k", hf_hub_id="timm/densenet121.ra_in1k", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet121.tv_in1k", publisher="torchvision", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet161": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet161.tv_in1k", publisher="torchvision", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet169": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet169.tv_in1k", publisher="torchvision", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
    ),
    "densenet201": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/densenet201.tv_in1k", publisher="torchvision", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
    ),
    "resnet18": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet18.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a1_0-d63eafa0.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet18.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a2_0-b61bd467.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet18.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a3_0-40c531c8.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnet18.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet18-d92f0530.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnet18.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet18-118f1556.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet18.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet18_v1b-0757602b.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet18.tv_in1k", url="https://download.pytorch.org/models/resnet18-f37072fd.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnet34": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet34.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a1_0-46f8f793.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet34.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a2_0-82d47d71.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet34.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a3_0-a20cabb6.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("bt_in1k", hf_hub_id="timm/resnet34.bt_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet34-43635321.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet34.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet34_v1b-c6d82d59.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra4_e3600_r224_in1k", hf_hub_id="timm/resnet34.ra4_e3600_r224_in1k", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet34.tv_in1k", url="https://download.pytorch.org/models/resnet34-b627a593.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnet50": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet50.a1_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1_0-14fe96d1.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet50.a1h_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1h2_176-001a1197.pth", publisher="timm", license="apache-2.0", resize=224, crop_pct=1.0, train_size=176, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet50.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a2_0-a2746f79.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet50.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a3_0-59cae1ef.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("am_in1k", hf_hub_id="timm/resnet50.am_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_am-6c502b37.pth", publisher="timm", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("b1k_in1k", hf_hub_id="timm/resnet50.b1k_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b1k-532a802a.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("b2k_in1k", hf_hub_id="timm/resnet50.b2k_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b2k-1ba180c1.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("bt_in1k", hf_hub_id="timm/resnet50.bt_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/rw_resnet50-86acaeed.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("c1_in1k", hf_hub_id="timm/resnet50.c1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c1-5ba5e060.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("c2_in1k", hf_hub_id="timm/resnet50.c2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c2-d01e05b2.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("d_in1k", hf_hub_id="timm/resnet50.d_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_d-f39db8af.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnet50.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet50-08389792.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnet50.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet50-16a12f1b.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet50.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1b-0ebe02e2.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra_in1k", hf_hub_id="timm/resnet50.ra_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ra-85ebb6e5.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("ram_in1k", hf_hub_id="timm/resnet50.ram_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ram-a26f946b.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet50.tv2_in1k", url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet50.tv_in1k", url="https://download.pytorch.org/models/resnet50-0676ba61.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnet101": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet101.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1_0-cdcb52a9.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet101.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1h-36d3f2aa.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet101.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a2_0-6edb36c7.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet101.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a3_0-1db14157.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet101.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1b-3b017079.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet101.tv2_in1k", url="https://download.pytorch.org/models/resnet101-cd907fc2.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet101.tv_in1k", url="https://download.pytorch.org/models/resnet101-63fe2227.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnet152": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnet152.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1_0-2eee8a7a.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnet152.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1h-dc400468.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnet152.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a2_0-b4c6978f.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnet152.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a3_0-134d4688.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnet152.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1b-c1edb0dd.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnet152.tv2_in1k", url="https://download.pytorch.org/models/resnet152-f82ba261.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnet152.tv_in1k", url="https://download.pytorch.org/models/resnet152-394f9c45.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnext50_32x4d": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/resnext50_32x4d.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1_0-b5a91a1d.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a1h_in1k", hf_hub_id="timm/resnext50_32x4d.a1h_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1h-0146ab0a.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/resnext50_32x4d.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a2_0-efc76add.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/resnext50_32x4d.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a3_0-3e450271.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext50_32x4-ddb3e555.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnext50_32x4d.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext50_32x4-72679e44.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnext50_32x4d.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext50_32x4d-e6a097c1.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("ra_in1k", hf_hub_id="timm/resnext50_32x4d.ra_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnext50_32x4d_ra-d733960d.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnext50_32x4d.tv2_in1k", url="https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext50_32x4d.tv_in1k", url="https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnext101_32x8d": (
        PretrainedTag("fb_ssl_yfcc100m_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x8-2cfe2f8b.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("fb_swsl_ig1b_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_swsl_ig1b_ft_in1k", url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x8-b4712904.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("fb_wsl_ig1b_ft_in1k", hf_hub_id="timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k", url="https://download.pytorch.org/models/ig_resnext101_32x8-c38310e5.pth", publisher="facebook", license="cc-by-nc-4.0", crop_pct=0.875),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/resnext101_32x8d.tv2_in1k", url="https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext101_32x8d.tv_in1k", url="https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "resnext101_64x4d": (
        PretrainedTag("c1_in1k", hf_hub_id="timm/resnext101_64x4d.c1_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/resnext101_64x4d_c-0d0e0cc0.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("gluon_in1k", hf_hub_id="timm/resnext101_64x4d.gluon_in1k", url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext101_64x4d-f9a8e184.pth", publisher="gluoncv", license="apache-2.0", crop_pct=0.875, interpolation="bicubic"),
        PretrainedTag("tv_in1k", hf_hub_id="timm/resnext101_64x4d.tv_in1k", url="https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "seresnet50": (
        PretrainedTag("a1_in1k", hf_hub_id="timm/seresnet50.a1_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a2_in1k", hf_hub_id="timm/seresnet50.a2_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a2_0-850de0d9.pth", publisher="timm", license="apache-2.0", resize=288, crop=288, crop_pct=1.0, train_size=224, interpolation="bicubic"),
        PretrainedTag("a3_in1k", hf_hub_id="timm/seresnet50.a3_in1k", url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a3_0-317ecd56.pth", publisher="timm", license="apache-2.0", resize=235, crop_pct=0.95, train_size=160, interpolation="bicubic"),
        PretrainedTag("ra2_in1k", hf_hub_id="timm/seresnet50.ra2_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet50_ra_224-8efdb4bb.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
    ),
    "vgg11": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg11.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg11_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg11_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg13": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg13.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg13_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg13_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg16": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg16.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg16_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg16_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg19": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg19.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "vgg19_bn": (
        PretrainedTag("tv_in1k", hf_hub_id="timm/vgg19_bn.tv_in1k", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "wide_resnet50_2": (
        PretrainedTag("racm_in1k", hf_hub_id="timm/wide_resnet50_2.racm_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/wide_resnet50_racm-8234f177.pth", publisher="timm", license="apache-2.0", resize=303, crop=288, crop_pct=0.95, train_size=224, interpolation="bicubic"),
        PretrainedTag("tv2_in1k", hf_hub_id="timm/wide_resnet50_2.tv2_in1k", url="https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/wide_resnet50_2.tv_in1k", url="https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
    "wide_resnet101_2": (
        PretrainedTag("tv2_in1k", hf_hub_id="timm/wide_resnet101_2.tv2_in1k", url="https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth", publisher="torchvision", license="bsd-3-clause", resize=232, crop_pct=0.965, train_size=176),
        PretrainedTag("tv_in1k", hf_hub_id="timm/wide_resnet101_2.tv_in1k", url="https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth", publisher="torchvision", license="bsd-3-clause", crop_pct=0.875),
    ),
}

#: timm's tags of these architectures that are left out, and why.
SKIPPED: dict[str, str] = {
    "resnet50.bamboo": "a backbone without a classifier (num_classes=0): cnnzoo loads a tag into create(NAME.TAG)'s classifier model, which these weights do not fill",
}
