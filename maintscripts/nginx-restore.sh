# shellcheck shell=sh
# nginx restore at purge (DESIGN.md section 5): a POSIX sh function library.
#
# debian/rules splices this file into the pws postrm in place of the line
# "#PWS_NGINX_RESTORE#", so it must only define functions (plus constants) and
# use only Essential tools and diff3. The postrm calls pws_nginx_restore at purge,
# in a subshell with "set -e"; a nonzero status keeps the state and fails the purge.

# TODO-issue-3: placeholder. Implement the three-way restore of /etc/nginx from
# /var/lib/pws/nginx (base, written, current) here.
pws_nginx_restore() {
    :
}
