"""MIDI generator at inference time: vocabulary/tokenizer, MIDI I/O, keys, sampling, stateful decoding."""
