#!/bin/sh
# check-prefetch.sh LIB.a - the batch reader prefetches (issue 18): snap_lookup_batch, or its
# helper batch_lookup where the build does not inline it (-O0), must hold prefetch
# instructions. GCC once deleted every call to the function that issued them (only
# prefetches inside: "const" to its analysis), and batches ran at the speed of one DRAM miss a
# lookup while every test passed. x86-64 only (elsewhere the instruction names differ).
set -eu
a=$1
case "$(uname -m)" in
x86_64) ;;
*) echo "lib.prefetch: not x86-64: nothing checked"; exit 0 ;;
esac
n=$(objdump -d --no-show-raw-insn "$a" |
	awk '/^[0-9a-f]+ <(snap_lookup_batch|batch_lookup)>:/ { on = 1; next } /^[0-9a-f]+ </ { on = 0 }
	     on && /prefetch/ { n++ } END { print n + 0 }')
if [ "$n" -eq 0 ]; then
	echo "lib.prefetch: the batch reader in $a issues no prefetch" >&2
	exit 1
fi
echo "lib.prefetch: the batch reader issues $n prefetches"
