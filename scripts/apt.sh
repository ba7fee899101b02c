# apt.sh: what setup.sh and bench-setup.sh share, sourced by both: find the
# Debian packages that are missing, and install them with apt-get (as root,
# or through sudo).

# osc_missing_packages PKG... sets the array `missing` to those not
# installed.
osc_missing_packages() {
	missing=()
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ "$status" != "install ok installed"* ]]; then
			missing+=("$pkg")
		fi
	done
}

# osc_apt_install WHO PKG... installs the packages, saying so on stderr as
# WHO; returns non-zero (after saying why) when it cannot.
osc_apt_install() {
	local who=$1
	shift
	local sudo=()
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "$who: missing packages: $* (not root, and no sudo)" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "$who: installing $*" >&2
	local options=(-q -y -o DPkg::Lock::Timeout=300 --no-install-recommends)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q \
		-o DPkg::Lock::Timeout=300 update >/dev/null &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${options[@]}" install "$@"
}
