"""The RFC 9162 tree against published test vectors, and proofs under hypothesis.

The vectors (leaves, roots, inclusion and consistency proofs for trees of up to eight
leaves) are those of transparency-dev/merkle ``proof/verify_test.go`` (Apache-2.0),
carried over from the certificate-transparency C++/Go reference code of RFC 6962, whose
hashing RFC 9162 keeps: leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    Subtree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    needed,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")
    + ("606162636465666768696a6b6c6d6e6f",)
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf index, tree size, proof): the Go file numbers leaves from 1; these from 0.
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def tree(leaves: list[bytes]) -> tuple[Subtree, Frontier]:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    for data in leaves:
        for level, index, h in frontier.append(leaf_hash(data)):
            nodes[level, index] = h
    return (lambda level, index: nodes[level, index]), frontier


def test_roots_match_the_vectors() -> None:
    get, frontier = tree(LEAVES)
    assert frontier.root() == ROOTS[-1]
    for size in range(1, 9):
        assert root(get, size) == ROOTS[size - 1]
        assert Frontier(size, [get(*k) for k in Frontier.edge_keys(size)]).root() == ROOTS[size - 1]
    assert root(get, 0) == EMPTY_ROOT == Frontier().root()


def test_inclusion_proofs_match_the_vectors() -> None:
    get, _ = tree(LEAVES)
    for index, size, hexes in INCLUSION:
        proof = [bytes.fromhex(h) for h in hexes]
        assert inclusion_proof(get, index, size) == proof
        assert verify_inclusion(index, size, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1])
        assert not verify_inclusion(
            index + 1, size, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1]
        )
        assert not verify_inclusion(
            index, size * 2, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1]
        )
        assert not verify_inclusion(
            index, size, leaf_hash(LEAVES[index]), proof[:-1], ROOTS[size - 1]
        )
        extra = [*proof, ROOTS[size - 1]]
        assert not verify_inclusion(index, size, leaf_hash(LEAVES[index]), extra, ROOTS[size - 1])


def test_consistency_proofs_match_the_vectors() -> None:
    get, _ = tree(LEAVES)
    for first, second, hexes in CONSISTENCY:
        proof = [bytes.fromhex(h) for h in hexes]
        assert consistency_proof(get, first, second) == proof
        assert verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)
        if proof:
            swapped = (first, second, ROOTS[second - 1], ROOTS[first - 1], proof)
            assert not verify_consistency(*swapped)
            assert not verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], [])
            assert not verify_consistency(
                first, second, ROOTS[first - 1], ROOTS[second - 1], proof[:-1]
            )


def test_lookups_are_logarithmic() -> None:
    get, _ = tree([bytes([i % 256, i // 256]) for i in range(1000)])
    keys = needed(lambda g: inclusion_proof(g, 517, 1000))
    assert len(keys) <= 2 * 10
    assert inclusion_proof(lambda lv, ix: get(lv, ix), 517, 1000)


sizes = st.integers(min_value=1, max_value=70)


@given(st.data())
def test_every_proof_verifies_and_any_tampering_fails(data: st.DataObject) -> None:
    size = data.draw(sizes)
    leaves = [i.to_bytes(2, "big") for i in range(size)]
    get, frontier = tree(leaves)
    top = frontier.root()
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(get, index, size)
    assert verify_inclusion(index, size, leaf_hash(leaves[index]), proof, top)
    assert not verify_inclusion(index, size, leaf_hash(b"tampered"), proof, top)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof]
        bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
        assert not verify_inclusion(index, size, leaf_hash(leaves[index]), bad, top)
    first = data.draw(st.integers(1, size))
    old = root(get, first)
    cproof = consistency_proof(get, first, size)
    assert verify_consistency(first, size, old, top, cproof)
    if first < size:
        forked = leaves[: first - 1] + [b"rewritten"] + leaves[first:]
        assert not verify_consistency(first, size, old, tree(forked)[1].root(), cproof)
        if cproof:
            bad = [*cproof]
            bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
            assert not verify_consistency(first, size, old, top, bad)
