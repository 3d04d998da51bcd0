"""Built-in model families."""

from mu_registry import hookimpl

from .hf import HFAudioClassifier, HFImageClassifier, HFTextClassifier, HFVideoClassifier, HFViltPairClassifier
from .hf_llava import HFLlava
from .mlp import MLPClassifier
from .small_cnn import SmallCNN
from .smollm2 import SmolLM2Llava
from .tiny_llava import TinyLlava


@hookimpl
def mu_register_models(register):
    register("small_cnn", SmallCNN)
    register("mlp", MLPClassifier)
    register("hf_image", HFImageClassifier)
    register("hf_text", HFTextClassifier)
    register("hf_audio", HFAudioClassifier)
    register("hf_video", HFVideoClassifier)
    register("hf_vilt_pair", HFViltPairClassifier)
    register("tiny_llava", TinyLlava)
    register("hf_llava", HFLlava)
    register("smollm2_llava", SmolLM2Llava)
