# Timing helpers shared by the bench scripts (sourced, not run).

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs a command with its output discarded; prints its wall time in microseconds.
wall_us() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
}
