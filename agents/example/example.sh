#!/bin/sh
# example.sh: the example agent written by hand in POSIX sh, speaking the seed protocol (SPEC
# §2.1, §2.3) with no library: `OK`, one data line per OK, `ItemsProcessed 1`, exit 0 at EOF.
# Without --scheduler_start it runs standalone: items from the arguments, else from stdin,
# messages on stderr, nothing on stdout.
LC_ALL=C  # ${#line} counts bytes
export LC_ALL

scheduler=0
for arg in "$@"; do
  case $arg in
    --scheduler_start) scheduler=1 ;;
  esac
done

describe() { printf 'example: %s has %d bytes' "$1" "${#1}"; }

if [ "$scheduler" = 1 ]; then
  printf 'OK\n'
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] && continue  # blank lines are not data
    printf 'LOG %s\nItemsProcessed 1\nOK\n' "$(describe "$line")"
  done
  exit 0
fi

# Standalone: skip the scheduler's options, take the rest as items.
items=0
skip=0
for arg in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case $arg in
    --jobId=* | --jqId=* | --config=* | --userID=* | --groupID=* | --db=*) continue ;;
    --jobId | --jqId | --config | --userID | --groupID | --db | -c) skip=1; continue ;;
  esac
  items=$((items + 1))
  printf 'LOG: %s\n' "$(describe "$arg")" >&2
done
if [ "$items" = 0 ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] && continue
    printf 'LOG: %s\n' "$(describe "$line")" >&2
  done
fi
exit 0
