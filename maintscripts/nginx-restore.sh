# shellcheck shell=sh
# nginx restore at purge (docs/architecture.md): a POSIX sh function library.
#
# debian/rules splices this file into the pws postrm in place of the line
# "#PWS_NGINX_RESTORE#", so it only defines functions. It uses Essential tools
# (coreutils, tar, grep, sed) and diff3 (diffutils, Essential) and nothing of pws:
# at purge the venv is gone. `local` is used as Debian Policy 10.4 allows.
# The postrm calls pws_nginx_restore at purge, in a subshell with "set -e"; a
# nonzero status (an unexpected failure such as a full disk) keeps the state and
# fails the purge so it can be run again.
#
# For every path in base.manifest and written.manifest, with B = the base snapshot,
# W = what pws left there and C = the path now (type, mode, owner, sha256 or link
# target; links never followed):
#   W not recorded, or W = B      pws left it as it was: nothing
#   C = B                         nothing (this makes a re-run a no-op)
#   C = W                         make it B: restore from base.tar, delete if B is
#                                 absent, recreate if pws had removed it
#   C absent                      the admin deleted it: leave it absent
#   W absent                      the admin recreated what pws removed: keep C
#   B absent                      the admin edited a pws file: keep C, say so
#   otherwise                     text files: diff3 -m -E C W B; clean -> write the
#                                 merge (C's mode and owner); else keep C and save B
#                                 under /var/backups/pws/
# Directories pws created go only if empty; other paths are never touched.
# Before: /var/lib/pws/nginx/prepurge.tar (kept from an interrupted run). After:
# `nginx -t`; if it passed before and fails now, the touched paths are put back
# from prepurge.tar (copies in /var/backups/pws/); then nginx is reloaded.
#
# Test hooks: PWS_RESTORE_ROOT prefixes every path; PWS_RESTORE_NGINX names the nginx
# command (default: nginx from PATH; none under PWS_RESTORE_ROOT unless set).

pws_nginx_restore() {
    pws_setup
    if [ ! -d "$PWS_ETC_NGINX" ]; then
        pws_say "$PWS_ETC_NGINX is gone (nginx was purged): nothing to restore."
        return 0
    fi
    if [ ! -d "$PWS_STATE" ]; then
        pws_say "no record of pws's changes to $PWS_ETC_NGINX ($PWS_STATE is missing): nothing restored."
        pws_list_leftovers
        return 0
    fi
    if [ ! -e "$PWS_STATE/base.manifest" ] && [ ! -e "$PWS_STATE/base.tar" ] \
        && [ ! -s "$PWS_STATE/written.manifest" ]; then
        pws_say "pws never changed $PWS_ETC_NGINX (no snapshot was taken): nothing to restore."
        return 0
    fi
    pws_load_state
    if [ -n "$PWS_PROBLEM" ]; then
        pws_state_damaged "$PWS_PROBLEM"
        pws_cleanup
        return 0
    fi
    pws_take_prepurge
    pws_restore_paths
    pws_after_restore
    pws_cleanup
}

# ---------------------------------------------------------------- setup and state

pws_setup() {
    # What this creates outside /etc/nginx (prepurge.tar, prepurge.nginx-t, restore.done,
    # backups) holds copies of the configuration, TLS keys included: private. Files put back
    # in /etc/nginx get their recorded mode explicitly.
    umask 077
    PWS_ROOT=${PWS_RESTORE_ROOT:-}
    PWS_ETC_NGINX=$PWS_ROOT/etc/nginx
    PWS_STATE=$PWS_ROOT/var/lib/pws/nginx
    PWS_BACKUPS=$PWS_ROOT/var/backups/pws
    PWS_TAB=$(printf '\t')
    PWS_NONE="-$PWS_TAB-$PWS_TAB-$PWS_TAB-"
    if [ -n "$PWS_ROOT" ]; then
        PWS_NGINX_CMD=${PWS_RESTORE_NGINX:-}
    else
        PWS_NGINX_CMD=${PWS_RESTORE_NGINX:-$(command -v nginx || true)}
    fi
    PWS_WORK= PWS_BACKUP= PWS_PROBLEM= PWS_RESUMED=
    PWS_RESTORED=0 PWS_REMOVED=0 PWS_MERGED=0 PWS_KEPT=0
}

pws_say() {
    printf 'pws: %s\n' "$*"
}

# Check the state and prepare the work dir: PWS_PROBLEM says what is wrong, if anything.
pws_load_state() {
    local f
    for f in base.manifest base.tar; do
        if [ ! -f "$PWS_STATE/$f" ] || [ -L "$PWS_STATE/$f" ]; then
            PWS_PROBLEM="$f is missing"
            return 0
        fi
    done
    rm -rf "$PWS_STATE"/.work.*
    PWS_WORK=$(mktemp -d "$PWS_STATE/.work.XXXXXX")
    pws_sorted_manifest base > "$PWS_WORK/base"
    pws_sorted_manifest written > "$PWS_WORK/written"
    PWS_PROBLEM=$(pws_manifest_problem base)
    [ -n "$PWS_PROBLEM" ] || PWS_PROBLEM=$(pws_manifest_problem written)
    [ -z "$PWS_PROBLEM" ] || return 0
    mkdir "$PWS_WORK/base.tree"
    if ! tar -C "$PWS_WORK/base.tree" --numeric-owner -xpf "$PWS_STATE/base.tar" 2>/dev/null \
        || [ ! -d "$PWS_WORK/base.tree/nginx" ]; then
        PWS_PROBLEM="base.tar cannot be read"
        return 0
    fi
    PWS_PROBLEM=$(pws_tree_problem)
    [ -z "$PWS_PROBLEM" ] || return 0
    pws_join_manifests > "$PWS_WORK/table"
    pws_dir_candidates > "$PWS_WORK/dirs"
}

pws_sorted_manifest() {
    if [ -f "$PWS_STATE/$1.manifest" ]; then
        LC_ALL=C sort -t "$PWS_TAB" -k1,1 -- "$PWS_STATE/$1.manifest"
    fi
}

# Well-formed lines (path, type, mode, owner, digest), relative paths that stay inside.
pws_manifest_problem() {
    local t=$PWS_TAB
    if grep -Ev "^[^$t]+$t[fld-]$t[^$t]+$t[^$t]+$t[^$t]+\$" "$PWS_WORK/$1" >/dev/null; then
        printf '%s' "$1.manifest has malformed lines"
    elif cut -f1 "$PWS_WORK/$1" | grep -E '^/|(^|/)\.\.(/|$)' >/dev/null; then
        printf '%s' "$1.manifest names paths outside /etc/nginx"
    fi
}

# base.tar must hold exactly what base.manifest describes.
pws_tree_problem() {
    local path type mode owner digest
    while IFS=$PWS_TAB read -r path type mode owner digest <&3; do
        if [ "$(pws_entry "$PWS_WORK/base.tree/nginx/$path")" != \
             "$type$PWS_TAB$mode$PWS_TAB$owner$PWS_TAB$digest" ]; then
            printf '%s' "base.tar does not match base.manifest at $path"
            return 0
        fi
    done 3< "$PWS_WORK/base"
}

# One line per path: path, then B's four fields, then W's ('~' where not recorded).
pws_join_manifests() {
    LC_ALL=C join -t "$PWS_TAB" -a 1 -a 2 -e '~' -o 0,1.2,1.3,1.4,1.5,2.2,2.3,2.4,2.5 \
        "$PWS_WORK/base" "$PWS_WORK/written"
}

# Directories above the paths pws wrote that were not in the base: pws made them.
pws_dir_candidates() {
    local path dir
    cut -f1 "$PWS_WORK/base" > "$PWS_WORK/base.paths"
    cut -f1 "$PWS_WORK/written" | while IFS= read -r path; do
        dir=$path
        while case $dir in */*) true ;; *) false ;; esac; do
            dir=${dir%/*}
            grep -Fxq -- "$dir" "$PWS_WORK/base.paths" || printf '%s\n' "$dir"
        done
    done | LC_ALL=C sort -u
}

pws_state_damaged() {
    pws_backup_dir
    cp -a -- "$PWS_STATE" "$PWS_BACKUP/state"
    rm -rf "$PWS_BACKUP/state"/.work.*
    pws_say "the record of pws's changes in $PWS_STATE is damaged: $1."
    pws_say "$PWS_ETC_NGINX was left exactly as it is; a copy of that record is in $PWS_BACKUP/state."
    pws_list_leftovers
}

pws_list_leftovers() {
    local found
    found=$(find "$PWS_ETC_NGINX" -name 'pws-*' 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
    if [ -n "$found" ]; then
        pws_say "files pws made may remain; remove those you no longer need: $found"
    fi
}

# One directory per purge run under /var/backups/pws (never read by nginx), 0700:
# copies of the nginx configuration may hold keys.
pws_backup_dir() {
    local stamp n=0
    [ -z "$PWS_BACKUP" ] || return 0
    mkdir -p -m 0700 "$PWS_BACKUPS"
    stamp=$(date +%Y%m%d-%H%M%S)
    PWS_BACKUP=$PWS_BACKUPS/purge-$stamp
    while ! mkdir -m 0700 "$PWS_BACKUP" 2>/dev/null; do
        n=$((n + 1))
        PWS_BACKUP=$PWS_BACKUPS/purge-$stamp.$n
    done
}

pws_cleanup() {
    [ -z "$PWS_WORK" ] || rm -rf "$PWS_WORK"
}

# ---------------------------------------------------------------- before and after

# The tree before the purge changed anything, and whether `nginx -t` passed on it.
# An interrupted run left both: keep them, they describe the tree before that run.
pws_take_prepurge() {
    if [ -f "$PWS_STATE/prepurge.tar" ]; then
        PWS_BEFORE=$(cat "$PWS_STATE/prepurge.nginx-t" 2>/dev/null || echo none)
        PWS_RESUMED=1
        pws_say "continuing an earlier, interrupted restore."
        return 0
    fi
    pws_nginx_check
    PWS_BEFORE=$PWS_CHECK
    echo "$PWS_BEFORE" > "$PWS_STATE/prepurge.nginx-t"
    tar -C "$PWS_ETC_NGINX/.." --numeric-owner -cpf "$PWS_STATE/.prepurge.tar" nginx
    mv -f -- "$PWS_STATE/.prepurge.tar" "$PWS_STATE/prepurge.tar"
    rm -f -- "$PWS_STATE/restore.done"
}

# PWS_CHECK: ok, failed (output in PWS_CHECK_OUT) or none (no nginx to ask).
pws_nginx_check() {
    PWS_CHECK=none PWS_CHECK_OUT=
    [ -n "$PWS_NGINX_CMD" ] || return 0
    if PWS_CHECK_OUT=$("$PWS_NGINX_CMD" -t 2>&1); then
        PWS_CHECK=ok
    else
        PWS_CHECK=failed
    fi
}

# (An earlier run that was interrupted may have made the changes: then this one checks
# and reloads for it.)
pws_after_restore() {
    local changed=$((PWS_RESTORED + PWS_REMOVED + PWS_MERGED))
    pws_nginx_check
    if [ "$PWS_CHECK" = failed ] && [ "$PWS_BEFORE" = ok ]; then
        pws_rollback
        return 0
    fi
    pws_summary
    if [ "$PWS_CHECK" = failed ]; then
        pws_say "\`nginx -t\` fails, as it did before the purge:"
        printf '%s\n' "$PWS_CHECK_OUT"
    elif [ "$PWS_CHECK" = ok ] && { [ "$changed" -gt 0 ] || [ -n "$PWS_RESUMED" ]; }; then
        pws_reload_nginx
    fi
}

pws_summary() {
    if [ $((PWS_RESTORED + PWS_REMOVED + PWS_MERGED + PWS_KEPT)) -eq 0 ]; then
        pws_say "$PWS_ETC_NGINX: nothing to restore; every path pws wrote is as it was" \
            "before pws, or as you left it."
    else
        pws_say "$PWS_ETC_NGINX: $PWS_RESTORED restored, $PWS_REMOVED removed," \
            "$PWS_MERGED merged, $PWS_KEPT kept as you changed them; nothing else touched."
    fi
}

# `nginx -t` passed before the restore and fails after it: put the touched paths back
# as they were before the purge, and keep copies of everything in /var/backups/pws.
pws_rollback() {
    pws_backup_dir
    cp -- "$PWS_STATE/prepurge.tar" "$PWS_STATE/base.tar" "$PWS_BACKUP/"
    tar -C "$PWS_ETC_NGINX/.." --numeric-owner -cpf "$PWS_BACKUP/restored-but-failing.tar" nginx
    mkdir "$PWS_WORK/prepurge.tree"
    tar -C "$PWS_WORK/prepurge.tree" --numeric-owner -xpf "$PWS_STATE/prepurge.tar"
    { cut -f1 "$PWS_WORK/table"; cat "$PWS_WORK/dirs"; } | LC_ALL=C sort -u > "$PWS_WORK/all"
    pws_sync_paths "$PWS_WORK/prepurge.tree" "$PWS_WORK/all"
    pws_say "after the restore \`nginx -t\` failed:"
    printf '%s\n' "$PWS_CHECK_OUT"
    pws_say "so $PWS_ETC_NGINX was put back as it was before the purge (pws's files included)."
    pws_say "copies: $PWS_BACKUP/prepurge.tar (before), $PWS_BACKUP/base.tar (before pws)," \
        "$PWS_BACKUP/restored-but-failing.tar (the restore that failed)."
}

# Make every path listed in $2 as it is in the tree $1: creations in order (parents
# first), then removals of directories in reverse order (children first).
pws_sync_paths() {
    local path
    while IFS= read -r path <&3; do
        pws_make_like "$1" "$path" keep-dirs
    done 3< "$2"
    LC_ALL=C sort -r "$2" > "$2.rev"
    while IFS= read -r path <&3; do
        pws_make_like "$1" "$path" dirs-too
    done 3< "$2.rev"
}

# Through invoke-rc.d (systemd or not, policy-rc.d respected); only if nginx runs: if not,
# it reads the restored configuration when it starts.
pws_reload_nginx() {
    local pid
    if [ -n "$PWS_ROOT" ]; then
        "$PWS_NGINX_CMD" -s reload || pws_say "nginx was not reloaded; reload it yourself."
        return 0
    fi
    pid=$(cat /run/nginx.pid 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        return 0
    elif [ -x /etc/init.d/nginx ]; then
        invoke-rc.d nginx reload || pws_say "nginx was not reloaded; reload it yourself."
    else
        "$PWS_NGINX_CMD" -s reload || pws_say "nginx was not reloaded; reload it yourself."
    fi
}

# ---------------------------------------------------------------- the paths

pws_restore_paths() {
    local path bt bm bo bd wt wm wo wd
    find "$PWS_ETC_NGINX" -name '.pws-restore.*' -exec rm -f -- {} + 2>/dev/null || true
    PWS_GONE=
    if [ ! -e "$PWS_ETC_NGINX/nginx.conf" ] && [ ! -L "$PWS_ETC_NGINX/nginx.conf" ]; then
        PWS_GONE=1
        pws_say "nginx.conf is gone (nginx was purged): removing pws's files, restoring nothing."
    fi
    : > "$PWS_WORK/rmdirs"
    while IFS=$PWS_TAB read -r path bt bm bo bd wt wm wo wd <&3; do
        [ "$bt" != '~' ] || { bt=- bm=- bo=- bd=-; }
        [ "$wt" = '~' ] && continue
        pws_restore_path "$path" "$bt$PWS_TAB$bm$PWS_TAB$bo$PWS_TAB$bd" \
            "$wt$PWS_TAB$wm$PWS_TAB$wo$PWS_TAB$wd"
    done 3< "$PWS_WORK/table"
    pws_remove_dirs
}

# The decision table (see the top of this file) for one path pws wrote.
pws_restore_path() {
    local path=$1 b=$2 w=$3 c
    c=$(pws_entry "$PWS_ETC_NGINX/$path")
    if [ "$w" = "$b" ] || [ "$c" = "$b" ] || pws_already_done "$path" "$c"; then
        return 0
    elif [ "$c" = "$w" ]; then
        pws_make_base "$path" "$b" "$w"
    elif [ "$c" = "$PWS_NONE" ]; then
        pws_kept "$path" "you deleted it after pws wrote it, so it stays absent."
    elif [ "$w" = "$PWS_NONE" ]; then
        pws_kept "$path" "you made it again after pws removed it."
    elif [ "$b" = "$PWS_NONE" ]; then
        pws_kept "$path" "pws made it and you edited it since; remove it if you no longer need it."
    else
        pws_merge "$path" "$b" "$w" "$c"
    fi
}

pws_kept() {
    PWS_KEPT=$((PWS_KEPT + 1))
    pws_say "kept $1: $2"
}

# C = W: put B back (a file, a link, a directory), or remove what pws created.
pws_make_base() {
    local path=$1 b=$2 w=$3
    if [ "$b" = "$PWS_NONE" ]; then
        if [ "$(pws_type "$w")" = d ]; then
            printf '%s\n' "$path" >> "$PWS_WORK/rmdirs"
        else
            rm -f -- "$PWS_ETC_NGINX/$path"
            PWS_REMOVED=$((PWS_REMOVED + 1))
            pws_say "removed $path (pws made it)."
        fi
        return 0
    fi
    [ -z "$PWS_GONE" ] || return 0
    pws_make_like "$PWS_WORK/base.tree" "$path" dirs-too
    [ "$PWS_MADE" = yes ] || return 0
    PWS_RESTORED=$((PWS_RESTORED + 1))
    if [ "$w" = "$PWS_NONE" ]; then
        pws_say "recreated $path (pws had removed it)."
    else
        pws_say "restored $path (pws had changed it)."
    fi
}

# Directories pws made (recorded or implied), children first, only if empty. With
# nginx purged, also the empty directories of the base that dpkg had to leave.
pws_remove_dirs() {
    local dir
    if [ -n "$PWS_GONE" ]; then
        cut -f1 "$PWS_WORK/base" >> "$PWS_WORK/rmdirs"
    fi
    cat "$PWS_WORK/dirs" >> "$PWS_WORK/rmdirs"
    LC_ALL=C sort -ru "$PWS_WORK/rmdirs" | while IFS= read -r dir; do
        pws_remove_dir "$dir"
    done
    if [ -n "$PWS_GONE" ] && rmdir -- "$PWS_ETC_NGINX" 2>/dev/null; then
        pws_say "removed $PWS_ETC_NGINX (empty)."
    fi
}

pws_remove_dir() {
    local path=$1 dest=$PWS_ETC_NGINX/$1
    [ "$path" != . ] && [ -d "$dest" ] && [ ! -L "$dest" ] || return 0
    if rmdir -- "$dest" 2>/dev/null; then
        pws_say "removed the directory $path (empty)."
    elif [ -z "$PWS_GONE" ] || ! grep -Fxq -- "$path" "$PWS_WORK/base.paths"; then
        pws_say "kept the directory $path: pws made it, but it is not empty."
    fi
}

# All three differ. Text files: merge "pws's change undone" into the admin's version;
# mode and owner likewise: the admin's, unless they are still what pws set.
pws_merge() {
    local path=$1 dest=$PWS_ETC_NGINX/$1 kept=$PWS_STATE/written/$1 rc=0
    if [ "$(pws_types "$2" "$3" "$4")" != fff ] \
        || [ "$(pws_field 4 "$(pws_entry "$kept")")" != "$(pws_field 4 "$3")" ]; then
        pws_keep_and_save "$path" "pws and you both changed it, and only text files are merged"
        return 0
    fi
    diff3 -m -E -- "$dest" "$kept" "$PWS_WORK/base.tree/nginx/$path" > "$PWS_WORK/merged" \
        2>/dev/null || rc=$?
    if [ "$rc" -eq 1 ]; then
        pws_keep_and_save "$path" "your edits overlap what pws changed"
        return 0
    elif [ "$rc" -ne 0 ]; then
        pws_keep_and_save "$path" "pws and you both changed it, and diff3 cannot merge it"
        return 0
    fi
    pws_put_file "$PWS_WORK/merged" "$dest" "$(pws_pick 2 "$2" "$3" "$4")" \
        "$(pws_pick 3 "$2" "$3" "$4")"
    pws_mark_done "$path"
    PWS_MERGED=$((PWS_MERGED + 1))
    pws_say "merged $path: your edits kept, pws's change undone."
}

# Field $1 (2 mode, 3 owner) after a merge of B=$2 W=$3 C=$4: C's, or B's if C kept W's.
pws_pick() {
    if [ "$(pws_field "$1" "$4")" = "$(pws_field "$1" "$3")" ]; then
        pws_field "$1" "$2"
    else
        pws_field "$1" "$4"
    fi
}

pws_keep_and_save() {
    local path=$1 dir
    pws_backup_dir
    dir=$(dirname -- "$PWS_BACKUP/nginx/$path")
    mkdir -p -- "$dir"
    cp -a -- "$PWS_WORK/base.tree/nginx/$path" "$dir/"
    pws_mark_done "$path"
    pws_kept "$path" "$2; the version from before pws is saved as $PWS_BACKUP/nginx/$path."
}

# Paths settled by a merge or a kept conflict, with the state they were left in, so that
# a re-run of an interrupted purge leaves them alone.
pws_mark_done() {
    printf '%s\t%s\n' "$1" "$(pws_entry "$PWS_ETC_NGINX/$1")" >> "$PWS_STATE/restore.done"
}

pws_already_done() {
    [ -f "$PWS_STATE/restore.done" ] && grep -Fxq -- "$1$PWS_TAB$2" "$PWS_STATE/restore.done"
}

# ---------------------------------------------------------------- file system

# The manifest fields (type, mode, owner, digest) of $1, never following a link.
pws_entry() {
    local raw bits type mode digest=-
    if [ ! -e "$1" ] && [ ! -L "$1" ]; then
        printf '%s\n' "$PWS_NONE"
        return 0
    fi
    raw=$(stat -c '%f %u:%g' -- "$1")
    bits=$((0x${raw% *}))
    mode=$(printf '%04o' $((bits & 4095)))
    case $((bits & 61440)) in
        32768) type=f digest=$(sha256sum < "$1") digest=${digest%% *} ;;
        40960) type=l mode=- digest=$(readlink -- "$1") ;;
        16384) type=d ;;
        *) type=other ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$type" "$mode" "${raw#* }" "$digest"
}

pws_type() {
    printf '%s' "${1%%"$PWS_TAB"*}"
}

pws_types() {
    local e
    for e in "$@"; do pws_type "$e"; done
}

# Make /etc/nginx/$2 as it is in the tree $1 (absent, file, link or directory).
# $3 = keep-dirs leaves a directory that should not be there for a later pass.
# PWS_MADE: yes, or no when something is in the way (and it says what).
pws_make_like() {
    local tree=$1 path=$2 dest=$PWS_ETC_NGINX/$2 want have
    want=$(pws_entry "$tree/nginx/$path")
    have=$(pws_entry "$dest")
    PWS_MADE=no
    [ "$want" != "$have" ] || return 0
    if [ "$(pws_type "$have")" = d ] && [ "$(pws_type "$want")" != d ]; then
        [ "$3" = dirs-too ] || return 0
        if ! rmdir -- "$dest" 2>/dev/null; then
            pws_say "kept the directory $path: it is not empty."
            return 0
        fi
    fi
    if [ "$(pws_type "$want")" != - ] && [ ! -d "$(dirname -- "$dest")" ]; then
        pws_say "did not put back $path: the directory it was in is gone."
        return 0
    fi
    case $(pws_type "$want") in
        -) rm -f -- "$dest" ;;
        f) pws_put_file "$tree/nginx/$path" "$dest" "$(pws_field 2 "$want")" \
            "$(pws_field 3 "$want")" ;;
        l) pws_put_link "$(pws_field 4 "$want")" "$dest" "$(pws_field 3 "$want")" ;;
        d) pws_put_dir "$dest" "$(pws_field 2 "$want")" "$(pws_field 3 "$want")" ;;
        *) return 0 ;;
    esac
    PWS_MADE=yes
}

pws_field() {
    printf '%s' "$2" | cut -f "$1"
}

# Atomically: a temp file in the same directory, owner and mode set, synced, renamed.
pws_put_file() {
    local src=$1 dest=$2 mode=$3 owner=$4 tmp
    tmp=$(mktemp "$(dirname -- "$dest")/.pws-restore.XXXXXX")
    cp -- "$src" "$tmp"
    chown -- "$owner" "$tmp"
    chmod -- "$mode" "$tmp"
    sync -- "$tmp"
    mv -f -T -- "$tmp" "$dest"
}

pws_put_link() {
    local target=$1 dest=$2 owner=$3 tmp
    tmp=$(dirname -- "$dest")/.pws-restore.$$.link
    rm -f -- "$tmp"
    ln -s -- "$target" "$tmp"
    chown -h -- "$owner" "$tmp"
    mv -f -T -- "$tmp" "$dest"
}

pws_put_dir() {
    local dest=$1 mode=$2 owner=$3
    if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -d "$dest" ]; }; then
        rm -f -- "$dest"
    fi
    [ -d "$dest" ] || mkdir -- "$dest"
    chown -- "$owner" "$dest"
    chmod -- "$mode" "$dest"
}
