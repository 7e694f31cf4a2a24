#!/bin/sh
# pgo.sh remakes default.pgo, the CPU profile `go build` uses for
# profile-guided optimisation of flowsift (Go's -pgo=auto takes the
# default.pgo of the main package's directory). The profile is of the
# main jobs on two archives the samples generator makes: the sample day
# (few sources) and three days with 100,000 background sources (many
# sources and pairs), each through `report` and `dscan`. Run it from
# anywhere in the module after a change that moves where the time goes;
# docs/performance.md gives what the profile saved when it was made.
set -eu
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -pgo=off -o "$work/flowsift" ./cmd/flowsift
fs="$work/flowsift"
"$fs" samples --out "$work/day" --flows 1000000 --seed 1
"$fs" samples --out "$work/div" --flows 1009796 --hours 72 --seed 5 --background-sources 100000
# Three runs of each: a run of a second or two gives a couple of hundred
# samples, too few for the compiler to see the hot calls.
for i in 1 2 3; do
	for a in day div; do
		"$fs" --log-level error --cpuprofile "$work/$a-report-$i.pprof" report --generated-at 2026-01-01T00:00:00Z --out "$work/$a-report-$i" "$work/$a" >/dev/null
		"$fs" --cpuprofile "$work/$a-dscan-$i.pprof" dscan -b "$work/$a" >/dev/null 2>&1
	done
done
go tool pprof -proto "$work"/*.pprof >cmd/flowsift/default.pgo
echo "wrote cmd/flowsift/default.pgo"
