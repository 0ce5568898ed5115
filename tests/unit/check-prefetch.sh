#!/bin/sh
# check-prefetch.sh NAME LIB.a [--min N] FUNC... - the prefetches of a memory-bound loop are in
# the code (issue 18): the functions FUNC (where a build inlines its helpers; at -O0 the helper
# itself may be one of them) hold at least N prefetch instructions together (default 1). GCC
# once deleted every call to a function whose only effects were prefetches (none, to its
# analysis: it is pure): the snapshot's batch and the cache's bulk load ran without them while
# every other test passed.
# x86-64 only (elsewhere the instruction names differ).
set -eu
name=$1 a=$2 min=1
shift 2
if [ "${1:-}" = --min ]; then
	min=$2
	shift 2
fi
case "$(uname -m)" in
x86_64) ;;
*) echo "$name: not x86-64: nothing checked"; exit 0 ;;
esac
funcs=$(echo "$@" | tr ' ' '|')
n=$(objdump -d --no-show-raw-insn "$a" |
	awk -v f="^[0-9a-f]+ <($funcs)>:" '$0 ~ f { on = 1; next } /^[0-9a-f]+ </ { on = 0 }
	     on && /prefetch/ { n++ } END { print n + 0 }')
if [ "$n" -lt "$min" ]; then
	echo "$name: $n prefetches in $* of $a, fewer than $min" >&2
	exit 1
fi
echo "$name: $n prefetches in $*"
