#!/bin/sh
# A fully allocated disk larger than one extent query (1 GiB): each query's
# extent merges into the previous one, which once made ferry copy stop with
# "no extents returned". sparse-random checks every byte written.
# Usage: copy-dense.sh FERRY
command -v nbdkit >/dev/null 2>&1 || exit 77
exec nbdkit -U - sparse-random size=1200M percent=100 \
	--run "'$1' copy -o json \"\$uri\" \"\$uri\" | grep -q '\"bytes_written\": 1258291200'"
