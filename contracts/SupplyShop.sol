// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {PayoutVault} from "./PayoutVault.sol";

/// @title SupplyShop
/// @notice Escrowed orders of painting supplies. The owner keeps a catalogue (item -> shop,
/// price); a buyer orders and pays in ETH; the payment stays here until the buyer confirms
/// delivery. A shop that does not mark the order fulfilled before the deadline lets the buyer
/// be refunded; a fulfilled order the buyer never confirms is released to the shop after the
/// confirmation window, so no payment stays locked.
contract SupplyShop is PayoutVault, Ownable {
    /// @notice Largest quantity of one order.
    uint256 public constant MAX_QUANTITY = 1_000;
    /// @notice Longest fulfilment or confirmation window the owner may set.
    uint256 public constant MAX_WINDOW = 180 days;

    /// @notice Life cycle of an order.
    enum Status {
        None,
        Placed,
        Fulfilled,
        Completed,
        Refunded
    }

    /// @dev A catalogue entry; `shop` is zero for an unknown item.
    struct Item {
        address shop;
        uint96 price;
    }

    /// @dev An order in two slots: who paid how much, and who is paid by when.
    struct Order {
        address buyer;
        uint96 amount;
        address shop;
        uint40 deadline;
        Status status;
    }

    /// @dev Read together on every order, so packed in one slot.
    struct Settings {
        uint64 nextOrderId;
        uint32 fulfilWindow;
        uint32 confirmWindow;
    }

    /// @notice Catalogue by item id.
    mapping(uint256 itemId => Item) public items;
    /// @notice Orders by id (ids start at 1).
    mapping(uint256 orderId => Order) public orders;
    /// @notice Next order id and the two windows in seconds.
    Settings public settings;

    /// @notice An item was added or changed.
    event ItemListed(uint256 indexed itemId, address indexed shop, uint256 price);
    /// @notice An item was removed from the catalogue.
    event ItemRemoved(uint256 indexed itemId);
    /// @notice The fulfilment or confirmation window changed.
    event WindowsUpdated(uint32 fulfilWindow, uint32 confirmWindow);
    /// @notice An order was placed and its payment escrowed.
    event OrderPlaced(
        uint256 indexed orderId,
        address indexed buyer,
        uint256 indexed itemId,
        uint256 quantity,
        uint256 amount,
        uint256 deadline
    );
    /// @notice The shop marked the order fulfilled; the buyer may confirm until `deadline`.
    event OrderFulfilled(uint256 indexed orderId, uint256 deadline);
    /// @notice The buyer confirmed delivery; the payment went to the shop.
    event DeliveryConfirmed(uint256 indexed orderId, address indexed shop, uint256 amount);
    /// @notice The confirmation window passed; the payment went to the shop.
    event PaymentReleased(uint256 indexed orderId, address indexed shop, uint256 amount);
    /// @notice The shop missed the deadline; the payment went back to the buyer.
    event OrderRefunded(uint256 indexed orderId, address indexed buyer, uint256 amount);

    /// @notice The item is not in the catalogue.
    error UnknownItem(uint256 itemId);
    /// @notice The price must be at least 1 wei.
    error ZeroPrice();
    /// @notice The quantity is zero or above MAX_QUANTITY.
    error InvalidQuantity(uint256 quantity);
    /// @notice The ETH sent differs from price x quantity.
    error WrongPayment(uint256 sent, uint256 due);
    /// @notice A window is zero or longer than MAX_WINDOW.
    error InvalidWindow(uint256 window);
    /// @notice The order is not in a state that allows this action.
    error InvalidStatus(uint256 orderId, Status status);
    /// @notice Only the order's buyer (or shop) may do this.
    error Unauthorized(uint256 orderId, address caller);
    /// @notice The deadline has passed.
    error DeadlinePassed(uint256 orderId, uint256 deadline);
    /// @notice The deadline has not passed yet.
    error DeadlineNotReached(uint256 orderId, uint256 deadline);

    /// @param owner_ Owner of the catalogue.
    /// @param fulfilWindow Seconds a shop has to fulfil an order.
    /// @param confirmWindow Seconds a buyer has to confirm a fulfilled order.
    constructor(address owner_, uint32 fulfilWindow, uint32 confirmWindow) Ownable(owner_) {
        settings.nextOrderId = 1;
        _setWindows(fulfilWindow, confirmWindow);
    }

    /// @notice Adds or changes a catalogue item.
    /// @param itemId Item id.
    /// @param shop Account paid for the item.
    /// @param price Price of one unit in wei.
    function setItem(uint256 itemId, address shop, uint96 price) external onlyOwner {
        if (shop == address(0)) revert ZeroAddress();
        if (price == 0) revert ZeroPrice();
        items[itemId] = Item(shop, price);
        emit ItemListed(itemId, shop, price);
    }

    /// @notice Removes an item; open orders of it are unaffected.
    /// @param itemId Item id.
    function removeItem(uint256 itemId) external onlyOwner {
        if (items[itemId].shop == address(0)) revert UnknownItem(itemId);
        delete items[itemId];
        emit ItemRemoved(itemId);
    }

    /// @notice Sets the fulfilment and confirmation windows of orders placed from now on.
    /// @param fulfilWindow Seconds a shop has to fulfil.
    /// @param confirmWindow Seconds a buyer has to confirm after fulfilment.
    function setWindows(uint32 fulfilWindow, uint32 confirmWindow) external onlyOwner {
        _setWindows(fulfilWindow, confirmWindow);
    }

    /// @notice Orders `quantity` units of an item, paying price x quantity into escrow.
    /// @param itemId Catalogue item.
    /// @param quantity Units, 1..MAX_QUANTITY.
    /// @return orderId The new order's id.
    function order(uint256 itemId, uint256 quantity)
        external
        payable
        nonReentrant
        returns (uint256 orderId)
    {
        Item memory item = items[itemId];
        if (item.shop == address(0)) revert UnknownItem(itemId);
        if (quantity == 0 || quantity > MAX_QUANTITY) revert InvalidQuantity(quantity);
        uint256 due = uint256(item.price) * quantity;
        if (msg.value != due) revert WrongPayment(msg.value, due);
        Settings memory s = settings;
        orderId = s.nextOrderId;
        uint40 deadline = uint40(block.timestamp + s.fulfilWindow);
        unchecked {
            settings.nextOrderId = s.nextOrderId + 1;
        }
        // due = msg.value, and all ETH in existence is below 2**96 wei.
        orders[orderId] = Order(msg.sender, uint96(due), item.shop, deadline, Status.Placed);
        emit OrderPlaced(orderId, msg.sender, itemId, quantity, due, deadline);
    }

    /// @notice The shop marks an order fulfilled before its deadline.
    /// @param orderId Order.
    function markFulfilled(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Placed) revert InvalidStatus(orderId, o.status);
        if (msg.sender != o.shop) revert Unauthorized(orderId, msg.sender);
        // slither-disable-next-line timestamp
        if (block.timestamp >= o.deadline) revert DeadlinePassed(orderId, o.deadline);
        uint40 deadline = uint40(block.timestamp + settings.confirmWindow);
        o.deadline = deadline;
        o.status = Status.Fulfilled;
        emit OrderFulfilled(orderId, deadline);
    }

    /// @notice The buyer confirms delivery; the escrowed payment goes to the shop.
    /// @param orderId Order, placed or fulfilled.
    function confirmDelivery(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        Status status = o.status;
        if (status != Status.Placed && status != Status.Fulfilled) {
            revert InvalidStatus(orderId, status);
        }
        if (msg.sender != o.buyer) revert Unauthorized(orderId, msg.sender);
        o.status = Status.Completed;
        (address shop, uint256 amount) = (o.shop, o.amount);
        emit DeliveryConfirmed(orderId, shop, amount);
        _pay(shop, amount);
    }

    /// @notice Pays the shop once the confirmation window of a fulfilled order has passed.
    /// @param orderId Fulfilled order; callable by anyone.
    function releasePayment(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Fulfilled) revert InvalidStatus(orderId, o.status);
        // slither-disable-next-line timestamp
        if (block.timestamp < o.deadline) revert DeadlineNotReached(orderId, o.deadline);
        o.status = Status.Completed;
        (address shop, uint256 amount) = (o.shop, o.amount);
        emit PaymentReleased(orderId, shop, amount);
        _pay(shop, amount);
    }

    /// @notice Refunds the buyer of an order the shop did not fulfil before its deadline.
    /// @param orderId Placed order past its deadline; callable by anyone.
    function refund(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Placed) revert InvalidStatus(orderId, o.status);
        // slither-disable-next-line timestamp
        if (block.timestamp < o.deadline) revert DeadlineNotReached(orderId, o.deadline);
        o.status = Status.Refunded;
        (address buyer, uint256 amount) = (o.buyer, o.amount);
        emit OrderRefunded(orderId, buyer, amount);
        _pay(buyer, amount);
    }

    function _setWindows(uint32 fulfilWindow, uint32 confirmWindow) private {
        if (fulfilWindow == 0 || fulfilWindow > MAX_WINDOW) revert InvalidWindow(fulfilWindow);
        if (confirmWindow == 0 || confirmWindow > MAX_WINDOW) revert InvalidWindow(confirmWindow);
        settings.fulfilWindow = fulfilWindow;
        settings.confirmWindow = confirmWindow;
        emit WindowsUpdated(fulfilWindow, confirmWindow);
    }
}
