"""Built-in model families.

Each is registered by import path (``module:Attribute``) and imported when a run first uses it.
"""

from mu_registry import hookimpl


@hookimpl
def mu_register_models(register):
    register("small_cnn", f"{__name__}.small_cnn:SmallCNN")
    register("mlp", f"{__name__}.mlp:MLPClassifier")
    register("hf_image", f"{__name__}.hf:HFImageClassifier")
    register("hf_text", f"{__name__}.hf:HFTextClassifier")
    register("hf_audio", f"{__name__}.hf:HFAudioClassifier")
    register("hf_video", f"{__name__}.hf:HFVideoClassifier")
    register("hf_vilt_pair", f"{__name__}.hf:HFViltPairClassifier")
    register("tiny_llava", f"{__name__}.tiny_llava:TinyLlava")
    register("hf_llava", f"{__name__}.hf_llava:HFLlava")
    register("smollm2_llava", f"{__name__}.smollm2:SmolLM2Llava")
