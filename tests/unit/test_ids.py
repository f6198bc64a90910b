from mloop._utils.ids import ID_LENGTH, new_id


def test_ids_are_unique_and_their_short_prefixes_too():
    ids = [new_id() for _ in range(20_000)]
    assert all(len(i) == ID_LENGTH for i in ids)
    assert len(set(ids)) == len(ids)
    # 8 random base32 characters = 40 bits: 20,000 ids collide with probability ~2e-4
    assert len({i[:8] for i in ids}) >= len(ids) - 1


def test_ids_drawn_in_bulk_are_ids_like_the_others():
    from mloop._utils.ids import _ALPHABET, new_ids

    ids = new_ids(5_000) + new_ids(5_000)
    assert len(set(ids)) == 10_000
    assert all(len(i) == ID_LENGTH and set(i) <= set(_ALPHABET) for i in ids)
    assert {i[0] for i in ids} == set(_ALPHABET)  # every character position is random
    assert new_ids(0) == []
