// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {PayoutVault} from "./PayoutVault.sol";

/// @title SupplyShop
/// @notice Escrowed orders of painting supplies. The owner keeps a catalogue (item -> shop,
/// price, optional shop bond); a buyer orders and pays in ETH, and the order keeps the shop,
/// price, bond and every window of that moment, whatever the owner changes later; the buyer
/// names the terms it read (`termsOf`), so a change mined before its order makes it revert.
/// The shop marks the order fulfilled (posting its bond and naming its evidence) before the
/// deadline, else the buyer is refunded. The buyer then confirms (the shop is paid) or disputes within the
/// confirmation window; silence releases the payment to the shop. A dispute freezes the funds
/// until the arbiter, fixed at deployment, splits them; an arbiter silent past the arbitration
/// window means a refund. No payment stays locked.
contract SupplyShop is PayoutVault, Ownable {
    /// @notice Largest quantity of one order.
    uint256 public constant MAX_QUANTITY = 1_000;
    /// @notice Longest fulfilment, confirmation or arbitration window the owner may set.
    uint256 public constant MAX_WINDOW = 180 days;

    /// @notice Life cycle of an order.
    enum Status {
        None,
        Placed,
        Fulfilled,
        Completed,
        Refunded,
        Disputed,
        Resolved
    }

    /// @dev A catalogue entry; `shop` is zero for an unknown item.
    struct Item {
        address shop;
        uint96 price;
        uint96 bond;
    }

    /// @dev An order with every term fixed at placement, in three slots. `deadline` is the
    /// end of the current phase: fulfilment, confirmation or arbitration.
    struct Order {
        address buyer;
        uint96 amount;
        address shop;
        uint40 deadline;
        Status status;
        uint32 confirmWindow;
        uint96 bond;
        uint32 arbitrationWindow;
    }

    /// @dev Read together on every order, so packed in one slot.
    struct Settings {
        uint64 nextOrderId;
        uint32 fulfilWindow;
        uint32 confirmWindow;
        uint32 arbitrationWindow;
    }

    /// @notice Decides disputes; fixed at deployment.
    address public immutable arbiter;
    /// @notice Catalogue by item id.
    mapping(uint256 itemId => Item) public items;
    /// @notice Orders by id (ids start at 1).
    mapping(uint256 orderId => Order) public orders;
    /// @notice Next order id and the windows, in seconds, given to orders placed from now on.
    Settings public settings;

    /// @notice An item was added or changed (orders already placed keep their terms).
    event ItemListed(uint256 indexed itemId, address indexed shop, uint256 price, uint256 bond);
    /// @notice An item was removed from the catalogue.
    event ItemRemoved(uint256 indexed itemId);
    /// @notice The windows of orders placed from now on changed.
    event WindowsUpdated(uint32 fulfilWindow, uint32 confirmWindow, uint32 arbitrationWindow);
    /// @notice An order was placed and its payment escrowed; the shop must fulfil by `deadline`.
    event OrderPlaced(
        uint256 indexed orderId,
        address indexed buyer,
        uint256 indexed itemId,
        uint256 quantity,
        uint256 amount,
        uint256 deadline
    );
    /// @notice The shop marked the order fulfilled, citing `evidence` (e.g. a hash of the parcel
    /// tracking record); the buyer may confirm or dispute until `deadline`.
    event OrderFulfilled(uint256 indexed orderId, bytes32 evidence, uint256 deadline);
    /// @notice The buyer confirmed delivery; the payment (and bond) went to the shop.
    event DeliveryConfirmed(uint256 indexed orderId, address indexed shop, uint256 amount);
    /// @notice The confirmation window passed; the payment (and bond) went to the shop.
    event PaymentReleased(uint256 indexed orderId, address indexed shop, uint256 amount);
    /// @notice The buyer was refunded: the shop missed its deadline or the arbiter its window.
    event OrderRefunded(uint256 indexed orderId, address indexed buyer, uint256 amount);
    /// @notice The buyer disputed a fulfilled order; the arbiter may rule until `deadline`.
    event OrderDisputed(uint256 indexed orderId, bytes32 reason, uint256 deadline);
    /// @notice The arbiter ruled: `toBuyer` and `toShop` wei (bond included) were paid out.
    event DisputeResolved(uint256 indexed orderId, uint256 toBuyer, uint256 toShop);

    /// @notice The item is not in the catalogue.
    error UnknownItem(uint256 itemId);
    /// @notice The price must be at least 1 wei.
    error ZeroPrice();
    /// @notice The quantity is zero or above MAX_QUANTITY.
    error InvalidQuantity(uint256 quantity);
    /// @notice The ETH sent differs from price x quantity.
    error WrongPayment(uint256 sent, uint256 due);
    /// @notice The ETH sent with the fulfilment differs from the order's bond.
    error WrongBond(uint256 sent, uint256 bond);
    /// @notice A window is zero or longer than MAX_WINDOW.
    error InvalidWindow(uint256 window);
    /// @notice The order is not in a state that allows this action.
    error InvalidStatus(uint256 orderId, Status status);
    /// @notice Only the order's buyer (or shop) may do this.
    error Unauthorized(uint256 orderId, address caller);
    /// @notice Only the arbiter rules on disputes.
    error NotArbiter(address caller);
    /// @notice The refund is larger than the order's payment.
    error InvalidRefund(uint256 refund, uint256 amount);
    /// @notice The deadline has passed.
    error DeadlinePassed(uint256 orderId, uint256 deadline);
    /// @notice The deadline has not passed yet.
    error DeadlineNotReached(uint256 orderId, uint256 deadline);
    /// @notice The item's terms are no longer those the buyer read.
    error TermsChanged(bytes32 expected, bytes32 current);

    /// @param owner_ Owner of the catalogue and the windows.
    /// @param arbiter_ Account that decides disputes, for good.
    /// @param fulfilWindow Seconds a shop has to fulfil an order.
    /// @param confirmWindow Seconds a buyer has to confirm or dispute a fulfilled order.
    /// @param arbitrationWindow Seconds the arbiter has to rule on a dispute.
    constructor(
        address owner_,
        address arbiter_,
        uint32 fulfilWindow,
        uint32 confirmWindow,
        uint32 arbitrationWindow
    ) Ownable(owner_) {
        if (arbiter_ == address(0)) revert ZeroAddress();
        arbiter = arbiter_;
        settings.nextOrderId = 1;
        _setWindows(fulfilWindow, confirmWindow, arbitrationWindow);
    }

    /// @notice Adds or changes a catalogue item; orders already placed keep their terms.
    /// @param itemId Item id.
    /// @param shop Account paid for the item.
    /// @param price Price of one unit in wei.
    /// @param bond Wei the shop posts when it marks an order fulfilled (0: no bond); it goes
    /// to the buyer if the arbiter refunds anything, else back to the shop.
    function setItem(uint256 itemId, address shop, uint96 price, uint96 bond)
        external
        onlyOwner
    {
        if (shop == address(0)) revert ZeroAddress();
        if (price == 0) revert ZeroPrice();
        items[itemId] = Item(shop, price, bond);
        emit ItemListed(itemId, shop, price, bond);
    }

    /// @notice Removes an item; open orders of it are unaffected.
    /// @param itemId Item id.
    function removeItem(uint256 itemId) external onlyOwner {
        if (items[itemId].shop == address(0)) revert UnknownItem(itemId);
        delete items[itemId];
        emit ItemRemoved(itemId);
    }

    /// @notice Sets the windows of orders placed from now on (placed orders keep theirs).
    /// @param fulfilWindow Seconds a shop has to fulfil.
    /// @param confirmWindow Seconds a buyer has to confirm or dispute after fulfilment.
    /// @param arbitrationWindow Seconds the arbiter has to rule on a dispute.
    function setWindows(uint32 fulfilWindow, uint32 confirmWindow, uint32 arbitrationWindow)
        external
        onlyOwner
    {
        _setWindows(fulfilWindow, confirmWindow, arbitrationWindow);
    }

    /// @notice Orders `quantity` units of an item, paying price x quantity into escrow, on the
    /// terms the buyer read: reverts if the owner changed them since.
    /// @param itemId Catalogue item.
    /// @param quantity Units, 1..MAX_QUANTITY.
    /// @param terms `termsOf(itemId)` as the buyer read it.
    /// @return orderId The new order's id.
    function order(uint256 itemId, uint256 quantity, bytes32 terms)
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
        bytes32 current = _terms(item, s);
        if (terms != current) revert TermsChanged(terms, current);
        orderId = s.nextOrderId;
        uint40 deadline = SafeCast.toUint40(block.timestamp + s.fulfilWindow);
        unchecked {
            settings.nextOrderId = s.nextOrderId + 1;
        }
        orders[orderId] = Order(
            msg.sender,
            SafeCast.toUint96(due),
            item.shop,
            deadline,
            Status.Placed,
            s.confirmWindow,
            item.bond,
            s.arbitrationWindow
        );
        emit OrderPlaced(orderId, msg.sender, itemId, quantity, due, deadline);
    }

    /// @notice The shop marks an order fulfilled before its deadline, posting the order's bond.
    /// @param orderId Order.
    /// @param evidence What the buyer and the arbiter can check (e.g. a tracking record hash).
    function markFulfilled(uint256 orderId, bytes32 evidence) external payable nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Placed) revert InvalidStatus(orderId, o.status);
        if (msg.sender != o.shop) revert Unauthorized(orderId, msg.sender);
        // slither-disable-next-line timestamp
        if (block.timestamp >= o.deadline) revert DeadlinePassed(orderId, o.deadline);
        if (msg.value != o.bond) revert WrongBond(msg.value, o.bond);
        uint40 deadline = SafeCast.toUint40(block.timestamp + o.confirmWindow);
        o.deadline = deadline;
        o.status = Status.Fulfilled;
        emit OrderFulfilled(orderId, evidence, deadline);
    }

    /// @notice The buyer confirms delivery; the escrowed payment (and bond) goes to the shop.
    /// @param orderId Order, placed or fulfilled.
    function confirmDelivery(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        Status status = o.status;
        if (status != Status.Placed && status != Status.Fulfilled) {
            revert InvalidStatus(orderId, status);
        }
        if (msg.sender != o.buyer) revert Unauthorized(orderId, msg.sender);
        o.status = Status.Completed;
        // A placed order has no bond posted yet.
        uint256 amount = status == Status.Fulfilled ? uint256(o.amount) + o.bond : o.amount;
        address shop = o.shop;
        emit DeliveryConfirmed(orderId, shop, amount);
        _pay(shop, amount);
    }

    /// @notice The buyer disputes a fulfilled order within the confirmation window; the funds
    /// stay frozen until the arbiter rules (or its window passes, which refunds the buyer).
    /// @param orderId Fulfilled order.
    /// @param reason What is wrong (e.g. a hash of the buyer's statement and photos).
    function dispute(uint256 orderId, bytes32 reason) external nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Fulfilled) revert InvalidStatus(orderId, o.status);
        if (msg.sender != o.buyer) revert Unauthorized(orderId, msg.sender);
        // slither-disable-next-line timestamp
        if (block.timestamp >= o.deadline) revert DeadlinePassed(orderId, o.deadline);
        uint40 deadline = SafeCast.toUint40(block.timestamp + o.arbitrationWindow);
        o.deadline = deadline;
        o.status = Status.Disputed;
        emit OrderDisputed(orderId, reason, deadline);
    }

    /// @notice The arbiter rules on a dispute within its window: `buyerRefund` wei go back to
    /// the buyer, the rest of the payment to the shop; the bond goes to the buyer if
    /// `buyerRefund` is non-zero, else back to the shop.
    /// @param orderId Disputed order.
    /// @param buyerRefund Wei of the payment returned to the buyer, at most the payment.
    function resolveDispute(uint256 orderId, uint256 buyerRefund) external nonReentrant {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        Order storage o = orders[orderId];
        if (o.status != Status.Disputed) revert InvalidStatus(orderId, o.status);
        // slither-disable-next-line timestamp
        if (block.timestamp >= o.deadline) revert DeadlinePassed(orderId, o.deadline);
        uint256 amount = o.amount;
        if (buyerRefund > amount) revert InvalidRefund(buyerRefund, amount);
        o.status = Status.Resolved;
        uint256 toBuyer = buyerRefund;
        uint256 toShop = amount - buyerRefund;
        if (buyerRefund != 0) toBuyer += o.bond;
        else toShop += o.bond;
        (address buyer, address shop) = (o.buyer, o.shop);
        emit DisputeResolved(orderId, toBuyer, toShop);
        if (toBuyer != 0) _pay(buyer, toBuyer);
        if (toShop != 0) _pay(shop, toShop);
    }

    /// @notice Pays the shop once the confirmation window of a fulfilled order has passed
    /// without a dispute.
    /// @param orderId Fulfilled order; callable by anyone.
    function releasePayment(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        if (o.status != Status.Fulfilled) revert InvalidStatus(orderId, o.status);
        // slither-disable-next-line timestamp
        if (block.timestamp < o.deadline) revert DeadlineNotReached(orderId, o.deadline);
        o.status = Status.Completed;
        uint256 amount = uint256(o.amount) + o.bond;
        address shop = o.shop;
        emit PaymentReleased(orderId, shop, amount);
        _pay(shop, amount);
    }

    /// @notice Refunds the buyer of an order the shop did not fulfil before its deadline, or of
    /// a dispute the arbiter did not rule on in time (the shop then gets its bond back).
    /// @param orderId Placed or disputed order past its deadline; callable by anyone.
    function refund(uint256 orderId) external nonReentrant {
        Order storage o = orders[orderId];
        Status status = o.status;
        if (status != Status.Placed && status != Status.Disputed) {
            revert InvalidStatus(orderId, status);
        }
        // slither-disable-next-line timestamp
        if (block.timestamp < o.deadline) revert DeadlineNotReached(orderId, o.deadline);
        o.status = Status.Refunded;
        (address buyer, uint256 amount) = (o.buyer, o.amount);
        uint256 bond = status == Status.Disputed ? o.bond : 0;
        address shop = o.shop;
        emit OrderRefunded(orderId, buyer, amount);
        _pay(buyer, amount);
        if (bond != 0) _pay(shop, bond);
    }

    /// @notice The terms an order of `itemId` placed now gets, as one hash to pass to `order`:
    /// keccak256(abi.encode(shop, price, bond, fulfilWindow, confirmWindow, arbitrationWindow)).
    /// @param itemId Catalogue item.
    /// @return The terms hash (an unknown item hashes as an all-zero item).
    function termsOf(uint256 itemId) external view returns (bytes32) {
        return _terms(items[itemId], settings);
    }

    function _terms(Item memory item, Settings memory s) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                item.shop, item.price, item.bond, s.fulfilWindow, s.confirmWindow,
                s.arbitrationWindow
            )
        );
    }

    function _setWindows(uint32 fulfilWindow, uint32 confirmWindow, uint32 arbitrationWindow)
        private
    {
        _checkWindow(fulfilWindow);
        _checkWindow(confirmWindow);
        _checkWindow(arbitrationWindow);
        settings.fulfilWindow = fulfilWindow;
        settings.confirmWindow = confirmWindow;
        settings.arbitrationWindow = arbitrationWindow;
        emit WindowsUpdated(fulfilWindow, confirmWindow, arbitrationWindow);
    }

    function _checkWindow(uint32 window) private pure {
        if (window == 0 || window > MAX_WINDOW) revert InvalidWindow(window);
    }
}
