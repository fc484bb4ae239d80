#!/usr/bin/env bash
# Regenerates the committed sample audio. Only needed to change it: the emulator, the demo and the
# tests read the committed WAV and need neither espeak-ng nor sox at run time.
#
#   apt-get install -y espeak-ng sox && local/audio/make_samples.sh
#
# The phrase is one PocketSphinx's bundled model recognises almost word for word when spoken by
# espeak-ng's klatt3 voice; check the emulator still hears it if you change voice or text.
set -euo pipefail

cd "$(dirname "$0")"
text="Please leave a message after the tone and we will call you back. The weather is nice today."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

espeak-ng -v en-us+klatt3 -s 150 -w "$work/speech.wav" "$text"
# 16 kHz, mono, signed 16-bit PCM: what Deepgram's docs recommend and what PocketSphinx expects.
sox "$work/speech.wav" -r 16000 -c 1 -b 16 -e signed-integer sample.wav
echo "wrote $(pwd)/sample.wav"
