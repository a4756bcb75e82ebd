import peft as p

rank = 8
config = p.LoraConfig(r=rank, lora_alpha=256, inference_mode=True, target_modules=[])
