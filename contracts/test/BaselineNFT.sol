// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @title BaselineNFT
/// @notice The straightforward design PaintingNFT is measured against in benchmarks/gas.py:
/// OpenZeppelin Enumerable + URI storage, sequential ids, the URI and provenance stored as is.
contract BaselineNFT is ERC721Enumerable, ERC721URIStorage {
    uint256 public nextId = 1;
    mapping(uint256 tokenId => bytes32 provenance) public provenanceOf;

    constructor() ERC721("Baseline", "BASE") {}

    /// @notice Mints the next id to `to` with a full URI string and a provenance hash.
    function mint(address to, string calldata uri, bytes32 provenance) external returns (uint256 id) {
        id = nextId++;
        _mint(to, id);
        _setTokenURI(id, uri);
        provenanceOf[id] = provenance;
    }

    function tokenURI(uint256 tokenId)
        public
        view
        override(ERC721, ERC721URIStorage)
        returns (string memory)
    {
        return super.tokenURI(tokenId);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721Enumerable, ERC721URIStorage)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _update(address to, uint256 tokenId, address auth)
        internal
        override(ERC721, ERC721Enumerable)
        returns (address)
    {
        return super._update(to, tokenId, auth);
    }

    function _increaseBalance(address account, uint128 value)
        internal
        override(ERC721, ERC721Enumerable)
    {
        super._increaseBalance(account, value);
    }
}
