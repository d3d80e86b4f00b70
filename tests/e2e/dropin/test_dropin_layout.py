"""What drop-in mode leaves on the master: the user's files byte for byte,
Debian's nginx.conf, and no server block of the collection's."""

import re

from dropin_hosts import EMPTY_SHA256, SNIPPET, USER_SERVER
from hosts import blocks_per_file, nginx_dump, on, snapshot


def test_the_users_files_are_byte_identical_to_before_converge(master, user_files_before):
    assert snapshot(master, user_files_before) == user_files_before
    # nginx.conf is still Debian's own: the md5 dpkg recorded for the conffile.
    recorded = re.search(r"(?m)^\s*/etc/nginx/nginx\.conf\s+([0-9a-f]{32})\s*$",
                         on(master, "dpkg-query", "--show", "--showformat=${Conffiles}", "nginx-common").stdout)
    md5 = on(master, "md5sum", "/etc/nginx/nginx.conf").stdout.split()[0]
    assert recorded and md5 == recorded.group(1), (md5, recorded)
    # Control: the same comparison sees the one file the collection had to
    # change, the snippet that prepare created empty.
    assert snapshot(master, [SNIPPET])[SNIPPET] != ["file", EMPTY_SHA256]


def test_no_server_block_of_the_collection(master):
    dump = nginx_dump(master)
    servers = blocks_per_file(dump, "server")
    assert servers == {USER_SERVER: 1}, servers
    assert "streamlit_ops_deploy" not in " ".join(servers), servers
    # Control: the same reader finds the app locations, inside the snippet the
    # user's server includes.
    locations = blocks_per_file(dump, "location")
    assert locations.get(SNIPPET, 0) >= 1 and locations.get(USER_SERVER) == 1, locations
