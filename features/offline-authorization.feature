Feature: Offline authorization from the cache and for unknown id tags
  While the central system is unreachable the charger decides alone (OCPP 1.6 §3.5, §3.5.4,
  §9.1.1, §9.1.12). It remembers in its authorization cache every IdTagInfo the central system
  sent (§3.5.1): a card remembered as Accepted charges offline when LocalAuthorizeOffline is true;
  a card remembered as Invalid, Blocked or Expired stays refused until ClearCache (§5.4) empties the
  cache. A card the charger has never seen charges offline only when AllowOfflineTxForUnknownId is
  true, which it is not by default. A refused card leaves nothing behind: no queued message, no
  late Authorize. Online, LocalPreAuthorize lets a cached valid card start at once (§9.1.13),
  and a cached card that is not valid any more is asked about again.

  Card 04A1B2C3 belongs to a regular customer; 04BAD001 is a card with a problem; 04FACE01 is a
  card this charger has never seen.

  Background:
    Given the charger uses RFID authorization
    And the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
      | 04FACE01 | Accepted |
      | 04CAFE03 | Accepted |

  @network
  Scenario: An unknown card charges offline when AllowOfflineTxForUnknownId is true
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system has received exactly 0 Authorize
    When the network is restored
    Then the central system receives a StartTransaction for "04FACE01" within 30 seconds
    And charging continues for 3 seconds
    When the card "04FACE01" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 15 seconds
    And every transaction is reported exactly once

  @network
  Scenario: An unknown card is refused offline by default, and nothing is reported later
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds
    When the network is restored
    Then the charger is back online within 30 seconds
    And the central system receives no StartTransaction for 5 seconds
    And the central system has received exactly 0 Authorize
    And the central system has received exactly 0 StopTransaction

  @network
  Scenario: A card that charged online charges offline from the cache
    Given the card "04A1B2C3" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
    And the central system has received exactly 2 StartTransaction
    And every transaction is reported exactly once

  @network
  Scenario Outline: A card the cache remembers as <status> stays refused offline
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04BAD001 | <status> |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04BAD001" was rejected online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

    Examples:
      | status  |
      | Invalid |
      | Blocked |
      | Expired |

  @network
  Scenario: A cached card past its expiry date is refused offline
    Given the central system knows these id tags:
      | id tag   | status   | expiry |
      | 04A1B2C3 | Accepted | +12s   |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04A1B2C3" has charged here while online
    When 15 seconds pass
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: A cached card is refused offline when LocalAuthorizeOffline is false
    Given the configuration key "LocalAuthorizeOffline" is "false"
    And the card "04A1B2C3" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: With the cache disabled a card that charged online is unknown offline
    Given the configuration key "AuthorizationCacheEnabled" is "false"
    And the card "04A1B2C3" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: After ClearCache a card that was refused charges offline again
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04BAD001 | Blocked |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04BAD001" was rejected online
    When the central system sends ClearCache
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: ClearCache is rejected when the cache is disabled, and queued messages survive it
    Given the configuration key "AuthorizationCacheEnabled" is "false"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    When the central system stops answering
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the central system sends ClearCache
    Then the charger answers "Rejected"
    When the central system answers again
    Then the central system receives a StopTransaction with reason "Local" within 30 seconds
    And every transaction is reported exactly once

  Scenario: After ClearCache a cached card is authorized online again
    Given the configuration key "LocalPreAuthorize" is "true"
    And the card "04A1B2C3" has charged here while online
    When the central system sends ClearCache
    Then the charger answers "Accepted"
    When the card "04A1B2C3" is presented
    Then the central system receives an Authorize for "04A1B2C3" within 5 seconds
    And the central system has received exactly 2 Authorize

  Scenario: With LocalPreAuthorize a cached card starts without an Authorize
    Given the configuration key "LocalPreAuthorize" is "true"
    And the card "04A1B2C3" has charged here while online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the central system has received exactly 1 Authorize

  Scenario: An expired cache entry is authorized online again
    Given the central system knows these id tags:
      | id tag   | status   | expiry |
      | 04A1B2C3 | Accepted | +12s   |
    And the configuration key "LocalPreAuthorize" is "true"
    And the card "04A1B2C3" has charged here while online
    When 15 seconds pass
    And the card "04A1B2C3" is presented
    Then the central system receives an Authorize for "04A1B2C3" within 5 seconds
    And the central system has received exactly 2 Authorize

  Scenario: A card cached as refused is asked about again while online
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04BAD001 | Blocked |
    And the configuration key "LocalPreAuthorize" is "true"
    And the card "04BAD001" was rejected online
    When the card "04BAD001" is presented
    Then the central system receives an Authorize for "04BAD001" within 5 seconds
    And the central system has received exactly 2 Authorize

  @network
  Scenario: The verdict in a StopTransaction confirmation updates the cache
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the charger's queue is empty within 5 seconds
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04A1B2C3 | Blocked |
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the EV is unplugged
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: A sibling card from the cache stops an offline transaction through the parent id tag
    Given the central system knows these id tags:
      | id tag   | status   | parent  |
      | 04A1B2C3 | Accepted | FLEET-7 |
      | 04A1B2C4 | Accepted | FLEET-7 |
    And the card "04A1B2C4" has charged here while online
    And the card "04A1B2C3" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C4" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  | 04A1B2C4 | Local  |
    And the last StopTransaction has id tag "04A1B2C4"
    And every transaction is reported exactly once

  @network
  Scenario: Enabling offline transactions for unknown id tags takes effect without a reboot
    Given the charger is online
    When the central system changes "AllowOfflineTxForUnknownId" to "true"
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  @network
  Scenario: With the cache disabled a refused card is not remembered
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04BAD001 | Blocked |
    And the configuration key "AuthorizationCacheEnabled" is "false"
    And the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04BAD001" was rejected online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: An accepted ClearCache does not drop queued transaction messages
    Given the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    When the central system stops answering
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the central system sends ClearCache
    Then the charger answers "Accepted"
    When the central system answers again
    Then the central system receives a StopTransaction with reason "Local" within 30 seconds
    And every transaction is reported exactly once

  # Issue 14.4: offline-behaviour.md "When full: drop not-valid entries first, then the oldest
  # valid ones". AuthorizationCacheMaxLength (our key) makes the cache small enough to fill.
  Scenario: A full cache drops a not-valid entry before the oldest valid one (§3.5.1)
    Given the configuration key "AuthorizationCacheMaxLength" is "2"
    And the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04A1B2C3" has charged here while online
    And the card "04BAD001" was rejected online
    And the card "04FACE01" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: A full cache of valid entries drops the oldest one (§3.5.1)
    Given the configuration key "AuthorizationCacheMaxLength" is "2"
    And the card "04A1B2C3" has charged here while online
    And the card "04FACE01" has charged here while online
    And the card "04CAFE03" has charged here while online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging does not start within 3 seconds
    When the card "04FACE01" is presented
    Then charging starts within 5 seconds
