// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title PaintingNFT
/// @notice One token per painting. The token id is the painting's provenance hash (the hash of
/// its stroke plan), so a plan can be minted once and the provenance costs no storage. The
/// metadata is an IPFS CIDv1 (raw codec, sha2-256) stored as its 32-byte digest; `tokenURI`
/// rebuilds the base32 `ipfs://bafkrei...` string from it. Metadata may change only while a
/// token has never been sold: while a minter holds it and it has never belonged to anyone but
/// minters and escrows (the auction house), and never left an escrow for a minter other than the
/// one that put it there; once it has, it is frozen for good. An account that holds tokens
/// cannot become a minter or escrow, so a buyer can never gain the right to edit what it bought.
contract PaintingNFT is ERC721, ERC2981, AccessControl, IERC4906 {
    /// @notice Role allowed to mint (the robot's wallet).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice Role of contracts that hold tokens for the robot without buying them (the
    /// auction house): passing through them is not a sale.
    bytes32 public constant ESCROW_ROLE = keccak256("ESCROW_ROLE");
    /// @notice Highest royalty the admin may set, in basis points (10 %).
    uint96 public constant MAX_ROYALTY_BPS = 1_000;

    bytes4 private constant _ERC4906_INTERFACE_ID = 0x49064906;
    /// @dev CIDv1 prefix: version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes.
    bytes4 private constant _CID_PREFIX = 0x01551220;
    bytes32 private constant _BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    uint8 private constant _MINTER = 1;
    uint8 private constant _ESCROW = 2;

    mapping(uint256 tokenId => bytes32 digest) private _cidDigest;
    /// @dev Roles of custodians, _MINTER | _ESCROW bits: one slot to read per transfer, not two.
    mapping(address account => uint8 kinds) private _custodian;
    /// @dev Set when a token comes back to a custodian from an outside owner (it was sold), or
    /// leaves an escrow for a custodian other than its depositor (sold to a minter).
    mapping(uint256 tokenId => bool) private _frozen;
    /// @dev The custodian that last put the token into an escrow (its seller).
    mapping(uint256 tokenId => address) private _depositor;

    /// @notice A painting was minted to `to` with metadata CID digest `cidDigest`.
    event PaintingMinted(uint256 indexed tokenId, address indexed to, bytes32 cidDigest);
    /// @notice The token came back after a sale: its metadata can never change again.
    event MetadataSealed(uint256 indexed tokenId);
    /// @notice The royalty receiver or rate changed.
    event RoyaltyUpdated(address indexed receiver, uint96 bps);

    /// @notice The provenance hash (token id) was zero.
    error ZeroProvenance();
    /// @notice The CID digest was zero.
    error EmptyCid();
    /// @notice The royalty rate passed the cap.
    error RoyaltyTooHigh(uint96 bps, uint96 max);
    /// @notice Metadata can only change while the minter still holds the token.
    error NotTokenHolder(uint256 tokenId, address caller);
    /// @notice An account holding tokens cannot be made a minter or escrow.
    error HoldsTokens(address account);
    /// @notice The token has been sold; its metadata is frozen.
    error MetadataFrozen(uint256 tokenId);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants roles, sets royalties).
    /// @param royaltyReceiver Receiver of ERC-2981 royalties (the robot wallet).
    /// @param royaltyBps Royalty rate in basis points.
    constructor(address admin, address royaltyReceiver, uint96 royaltyBps)
        ERC721("Gaka Paintings", "GAKA")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setRoyalty(royaltyReceiver, royaltyBps);
    }

    /// @notice Mints the painting whose stroke plan hashes to `provenance`.
    /// @param to Receiver of the token (normally the robot itself).
    /// @param provenance Hash of the stroke plan; becomes the token id.
    /// @param cidDigest sha2-256 digest of the metadata JSON (its CIDv1 raw digest).
    /// @return tokenId The new token id, `uint256(provenance)`.
    function mint(address to, bytes32 provenance, bytes32 cidDigest)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 tokenId)
    {
        if (provenance == bytes32(0)) revert ZeroProvenance();
        if (cidDigest == bytes32(0)) revert EmptyCid();
        tokenId = uint256(provenance);
        _cidDigest[tokenId] = cidDigest;
        // _mint (not _safeMint): the minter names its own wallet; it reverts on a repeated plan.
        _mint(to, tokenId);
        emit PaintingMinted(tokenId, to, cidDigest);
    }

    /// @notice Replaces the metadata of a never-sold painting the minter holds (ERC-4906 event).
    /// @param tokenId Painting to update; not while it is in auction, never once sold.
    /// @param cidDigest New metadata digest.
    function updateMetadata(uint256 tokenId, bytes32 cidDigest) external onlyRole(MINTER_ROLE) {
        if (cidDigest == bytes32(0)) revert EmptyCid();
        if (_requireOwned(tokenId) != msg.sender) revert NotTokenHolder(tokenId, msg.sender);
        if (_frozen[tokenId]) revert MetadataFrozen(tokenId);
        _cidDigest[tokenId] = cidDigest;
        emit MetadataUpdate(tokenId);
    }

    /// @notice Sets the ERC-2981 royalty receiver and rate for every token.
    /// @param receiver Royalty receiver.
    /// @param bps Rate in basis points, at most MAX_ROYALTY_BPS.
    function setRoyalty(address receiver, uint96 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setRoyalty(receiver, bps);
    }

    /// @notice Metadata CID digest of a painting.
    /// @param tokenId Painting.
    /// @return The sha2-256 digest of its metadata JSON.
    function cidDigestOf(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return _cidDigest[tokenId];
    }

    /// @notice Whether a painting's metadata can still change (held by a minter, never sold).
    /// @param tokenId Painting.
    /// @return True while `updateMetadata` would accept a new digest from its holder.
    function metadataEditable(uint256 tokenId) external view returns (bool) {
        address holder = _requireOwned(tokenId);
        return hasRole(MINTER_ROLE, holder) && !_frozen[tokenId];
    }

    /// @notice Provenance hash (stroke plan hash) of a painting.
    /// @param tokenId Painting.
    /// @return The provenance hash, equal to the token id.
    function provenanceOf(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return bytes32(tokenId);
    }

    /// @notice `ipfs://<CIDv1>` of the painting's metadata JSON.
    /// @param tokenId Painting.
    /// @return The metadata URI.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", cidV1(_cidDigest[tokenId]));
    }

    /// @notice CIDv1 string (multibase base32, raw codec, sha2-256) of a digest.
    /// @param digest sha2-256 digest of the content.
    /// @return The CID as IPFS prints it (`bafkrei...`, 59 characters).
    function cidV1(bytes32 digest) public pure returns (string memory) {
        bytes memory raw = abi.encodePacked(_CID_PREFIX, digest);
        bytes memory out = new bytes(59);
        out[0] = "b";
        uint256 buffer = 0;
        uint256 bits = 0;
        uint256 j = 1;
        unchecked {
            for (uint256 i; i < raw.length; ++i) {
                buffer = ((buffer << 8) | uint8(raw[i])) & 0xfff;
                bits += 8;
                while (bits >= 5) {
                    bits -= 5;
                    out[j++] = _BASE32_ALPHABET[(buffer >> bits) & 31];
                }
            }
            // 36 bytes = 288 bits leave 3 bits, padded with zeros to a last 5-bit group.
            out[j] = _BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
        }
        return string(out);
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl, IERC165)
        returns (bool)
    {
        return interfaceId == _ERC4906_INTERFACE_ID || super.supportsInterface(interfaceId);
    }

    /// @dev Freezes a token's metadata when it enters a custodian from an outside owner (it was
    /// sold or given away), or leaves an escrow for a custodian other than the one that put it
    /// there (sold to a minter). A sale to an outsider (escrow -> buyer) reads one slot and
    /// writes nothing; while outside, `updateMetadata` fails on the holder check. Entering an
    /// escrow records the depositor (a repeated listing rewrites the same value).
    function _update(address to, uint256 tokenId, address auth)
        internal
        override
        returns (address from)
    {
        from = super._update(to, tokenId, auth);
        if (from == address(0)) return from;
        uint8 toKinds = _custodian[to];
        if (toKinds == 0) return from;
        uint8 fromKinds = _custodian[from];
        bool sold = fromKinds == 0
            || (fromKinds & _ESCROW != 0 && toKinds & _ESCROW == 0 && _depositor[tokenId] != to);
        if (sold) {
            if (!_frozen[tokenId]) {
                _frozen[tokenId] = true;
                emit MetadataSealed(tokenId);
            }
        } else if (toKinds & _ESCROW != 0 && fromKinds & _ESCROW == 0) {
            _depositor[tokenId] = from;
        }
    }

    /// @dev Keeps `_custodian` equal to the MINTER_ROLE / ESCROW_ROLE held; refuses to make a
    /// custodian of an account that holds tokens (it could have bought them).
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        uint8 kind = _kind(role);
        if (kind != 0 && balanceOf(account) != 0) revert HoldsTokens(account);
        granted = super._grantRole(role, account);
        if (granted && kind != 0) _custodian[account] |= kind;
    }

    /// @dev Keeps `_custodian` equal to the MINTER_ROLE / ESCROW_ROLE held.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        uint8 kind = _kind(role);
        if (revoked && kind != 0) _custodian[account] &= ~kind;
    }

    function _kind(bytes32 role) private pure returns (uint8) {
        if (role == MINTER_ROLE) return _MINTER;
        if (role == ESCROW_ROLE) return _ESCROW;
        return 0;
    }

    function _setRoyalty(address receiver, uint96 bps) private {
        if (bps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(bps, MAX_ROYALTY_BPS);
        _setDefaultRoyalty(receiver, bps);
        emit RoyaltyUpdated(receiver, bps);
    }
}
