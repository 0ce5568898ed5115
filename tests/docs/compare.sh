# compare.sh - sourced by the doc tests: check() compares two sorted lists of names and says
# which are in one and not the other; $status becomes 1 on any difference.
status=0
check() {	# check WHAT LIST-A NAME-A LIST-B NAME-B
	local only_a only_b
	only_a=$(comm -23 "$2" "$4" | tr '\n' ' ')
	only_b=$(comm -13 "$2" "$4" | tr '\n' ' ')
	if [ -n "$only_a" ]; then echo "FAIL: $1 in $3 but not in $5: $only_a"; status=1; fi
	if [ -n "$only_b" ]; then echo "FAIL: $1 in $5 but not in $3: $only_b"; status=1; fi
	[ -n "$only_a$only_b" ] || echo "ok: $1 of $3 and $5 agree ($(wc -l <"$2"))"
}
