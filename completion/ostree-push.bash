# bash completion for ostree-push(1).
#
# Completes options, the destination (hosts from ~/.ssh/config and
# ~/.ssh/known_hosts as "host:", ssh:// and file:// prefixes, local
# directories) and refspecs (the refs of the local repository: --repo, else
# $OSTREE_REPO, else the current directory; also after "+", after "SRC:",
# and ":REF" to delete). Works with or without the bash-completion package.

_ostree_push_options='--repo --to --port --identity --ssh-option --ssh-command
--receive-command --force --dry-run --quiet --verbose --progress --no-progress
--no-compress --json --stdio --server-1x --retry --s3-endpoint --s3-region
--s3-profile --s3-path-style --s3-jobs --s3-retries --s3-unconditional
--s3-cache-objects --s3-cache-mutable --sign-summary-gpg --gpg-homedir
--sign-summary-ed25519 --after-publish --version --help -p -i -o -f -n -q -v -h'

# _ostree_push_hosts prints the host names that ssh knows of.
_ostree_push_hosts() {
	local f
	for f in ~/.ssh/config /etc/ssh/ssh_config; do
		[[ -r $f ]] || continue
		awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' "$f"
	done
	for f in ~/.ssh/known_hosts /etc/ssh/ssh_known_hosts; do
		[[ -r $f ]] || continue
		awk '$1 !~ /^[|#@]/ { n = split($1, h, ","); for (i = 1; i <= n; i++) { x = h[i]; if (x ~ /^\[/) { sub(/^\[/, "", x); sub(/\].*/, "", x) } print x } }' "$f"
	done
}

# _ostree_push_refs REPO prints the refs of the local repository REPO.
_ostree_push_refs() {
	command -v ostree >/dev/null 2>&1 || return 0
	ostree refs --repo="$1" 2>/dev/null
}

_ostree_push() {
	# The words up to the cursor, split on blanks only: COMP_WORDS is also
	# split at ':' and '=', which host:PATH, SRC:DST and --opt=VALUE contain.
	local line=${COMP_LINE:0:COMP_POINT}
	local -a words
	read -ra words <<<"$line"
	local cur=
	if [[ $line != *[[:space:]] && ${#words[@]} -gt 0 ]]; then
		cur=${words[-1]}
		unset 'words[-1]'
	fi

	local repo=${OSTREE_REPO:-.} dest= i w expect=
	for ((i = 1; i < ${#words[@]}; i++)); do
		w=${words[i]}
		if [[ -n $expect ]]; then
			[[ $expect == repo ]] && repo=$w
			[[ $expect == to ]] && dest=$w
			expect=
			continue
		fi
		case $w in
		--repo=*) repo=${w#--repo=} ;;
		--repo) expect=repo ;;
		--to=*) dest=${w#--to=} ;; # with --to, every argument is a refspec
		--to) expect=to ;;
		-p | --port | -i | --identity | -o | --ssh-option | --ssh-command | --receive-command) expect=value ;;
		--s3-endpoint | --s3-region | --s3-profile | --s3-jobs | --s3-retries | --s3-cache-objects | --s3-cache-mutable) expect=value ;;
		--sign-summary-gpg | --gpg-homedir | --sign-summary-ed25519 | --after-publish) expect=value ;;
		--) ;;
		-*) ;;
		*) [[ -z $dest ]] && dest=$w ;;
		esac
	done

	local -a reply=()
	local IFS=$'\n'
	if [[ $expect == to ]]; then
		dest= # complete the destination after --to
	fi
	if [[ -n $expect && $expect != to ]]; then
		case ${words[-1]} in
		--repo) reply=($(compgen -d -- "$cur")) ;;
		-i | --identity | --sign-summary-ed25519) reply=($(compgen -f -- "$cur")) ;;
		--gpg-homedir) reply=($(compgen -d -- "$cur")) ;;
		esac
	elif [[ $cur == --repo=* ]]; then
		reply=($(compgen -d -P --repo= -- "${cur#--repo=}"))
	elif [[ $cur == -* ]]; then
		IFS=$' \t\n'
		reply=($(compgen -W "$_ostree_push_options" -- "$cur"))
	elif [[ -z $dest ]]; then
		if [[ $cur == *:* && $cur != ssh://* && $cur != file://* ]]; then
			reply=() # host:PATH: the remote path is not completed
		else
			local h
			for h in $(_ostree_push_hosts | sort -u); do
				[[ $h == "$cur"* ]] && reply+=("$h:")
			done
			for h in ssh:// file://; do
				[[ $h == "$cur"* ]] && reply+=("$h")
			done
			reply+=($(compgen -d -S / -- "$cur"))
		fi
		compopt -o nospace 2>/dev/null
	else
		local prefix= rest=$cur
		if [[ $rest == +* ]]; then
			prefix=+
			rest=${rest#+}
		fi
		if [[ $rest == *:* ]]; then
			prefix+=${rest%%:*}:
			rest=${rest#*:}
		fi
		local r
		for r in $(_ostree_push_refs "$repo"); do
			[[ $r == "$rest"* ]] && reply+=("$prefix$r")
		done
	fi

	# Bash replaces only the part of the word after its last ':' (a word
	# break); drop what comes before it from the replies.
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local keep=${cur%"${cur##*:}"}
		for i in "${!reply[@]}"; do
			reply[i]=${reply[i]#"$keep"}
		done
	fi
	if [[ $cur == --repo=* && $COMP_WORDBREAKS == *=* ]]; then
		for i in "${!reply[@]}"; do
			reply[i]=${reply[i]#--repo=}
		done
	fi
	COMPREPLY=("${reply[@]}")
}

complete -F _ostree_push ostree-push
