Feature: Local authorization list
  The central system may give the charger a local authorization list (OCPP 1.6 §3.5.3, §5.10,
  §5.15, §9.2). Offline, the list is consulted first (§3.5.4): a listed card that is Blocked,
  Invalid or Expired is refused whatever the other keys say, a listed valid card charges when
  LocalAuthorizeOffline is true. The list changes only through SendLocalList: a full update
  replaces it, a differential update applies changes and must raise the version, an entry without
  idTagInfo is deleted. GetLocalListVersion reports 0 for an empty list and -1 when the list is
  disabled. Listed cards never enter the authorization cache (§3.5.3), and a StartTransaction.conf
  that contradicts the list is reported as LocalListConflict on connector 0.

  Background:
    Given the charger uses RFID authorization
    And the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
      | 04C0FFEE | Accepted |

  @network
  Scenario Outline: A card listed as <status> is refused offline whatever the other keys say
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the configuration key "LocalAuthorizeOffline" is "true"
    And the card "04C0FFEE" has charged here while online
    When the central system sends the local list version 3:
      | id tag   | status   |
      | 04C0FFEE | <status> |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

    Examples:
      | status  |
      | Blocked |
      | Invalid |
      | Expired |

  @network
  Scenario: A valid listed card charges offline without any cache entry
    Given the configuration key "LocalAuthorizeOffline" is "true"
    And the configuration key "LocalPreAuthorize" is "false"
    And the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04C0FFEE" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04C0FFEE |        |
      | StopTransaction  |          | Local  |
    And every transaction is reported exactly once

  @network
  Scenario: A valid listed card is refused offline when LocalAuthorizeOffline is false
    Given the configuration key "LocalAuthorizeOffline" is "false"
    And the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: A listed card does not enter the authorization cache
    Given the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    Then the charger answers "Accepted"
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04C0FFEE" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 5 seconds
    When the EV is unplugged
    And the central system sends the local list version 2:
      | id tag | status |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  Scenario: A StartTransaction confirmation that contradicts the list is a LocalListConflict
    Given the configuration key "LocalPreAuthorize" is "true"
    And the charger is online
    When the central system sends the local list version 4:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    And the central system answers StartTransaction with "Blocked"
    And the EV is plugged in
    And the card "04C0FFEE" is presented
    Then the central system receives a StartTransaction for "04C0FFEE" within 10 seconds
    And the central system receives a StatusNotification with error code "LocalListConflict" for connector 0 within 10 seconds
    And the local list version is 4

  Scenario: A fresh charger has an empty list, version 0
    Given the charger is online
    Then the local list version is 0

  Scenario: A full update sets the version
    Given the charger is online
    When the central system sends the local list version 2:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    Then the charger answers "Accepted"
    And the local list version is 2

  Scenario: A full update without a list empties it, version 0
    Given the charger is online
    When the central system sends the local list version 2:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    And the central system sends the local list version 3:
      | id tag | status |
    Then the charger answers "Accepted"
    And the local list version is 0

  Scenario: Differential updates must raise the version
    Given the charger is online
    When the central system sends the local list version 2:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    And the central system sends a differential local list version 5:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    Then the charger answers "Accepted"
    And the local list version is 5
    When the central system sends a differential local list version 4:
      | id tag   | status  |
      | 04A1B2C3 | Blocked |
    Then the charger answers "VersionMismatch"
    And the local list version is 5
    When the central system sends a differential local list version 5:
      | id tag   | status  |
      | 04A1B2C3 | Blocked |
    Then the charger answers "VersionMismatch"
    And the local list version is 5

  @network
  Scenario: A differential entry without a status deletes the card from the list
    Given the charger is online
    When the central system sends the local list version 2:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
      | 04A1B2C3 | Accepted |
    And the central system sends a differential local list version 3:
      | id tag   | status |
      | 04C0FFEE |        |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging starts within 5 seconds

  Scenario: A disabled local list reports version -1
    Given the configuration key "LocalAuthListEnabled" is "false"
    And the charger is online
    Then the local list version is -1

  @power
  Scenario: The local list survives a power cycle
    Given the charger is online
    When the central system sends the local list version 7:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    Then the charger answers "Accepted"
    When the charger is power-cycled
    Then the charger is back online within 30 seconds
    And the local list version is 7

  Scenario: ClearCache leaves the local list alone
    Given the charger is online
    When the central system sends the local list version 6:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    And the central system sends ClearCache
    Then the charger answers "Accepted"
    And the local list version is 6

  @network
  Scenario: The local list is consulted before the cache
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04BAD001 | Blocked |
    And the card "04BAD001" was rejected online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04BAD001 | Accepted |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  @network
  Scenario: A listed card past its expiry date is refused offline
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   | expiry |
      | 04C0FFEE | Accepted | -1h    |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: Id tags in the list match cards whatever their letter case
    Given the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04c0ffee | Accepted |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  @network
  Scenario: A full update replaces the whole list
    Given the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
      | 04A1B2C3 | Accepted |
    And the central system sends the local list version 2:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging starts within 5 seconds

  @network
  Scenario: A disabled list is not consulted offline
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the central system sends the local list version 1:
      | id tag   | status  |
      | 04C0FFEE | Blocked |
    Then the charger answers "Accepted"
    When the central system changes "LocalAuthListEnabled" to "false"
    Then the charger answers "Accepted"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: With LocalPreAuthorize a listed card starts online without an Authorize
    Given the configuration key "LocalPreAuthorize" is "true"
    And the charger is online
    When the central system sends the local list version 1:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    Then the charger answers "Accepted"
    When the EV is plugged in
    And the card "04C0FFEE" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04C0FFEE" within 5 seconds
    And the central system has received exactly 0 Authorize

  # Issue 14.4: a Full update carries idTagInfo for every entry (§7.1, §5.15); an entry without
  # one cannot be added, so the update fails and nothing changes.
  Scenario: A full update with an entry without a status fails and changes nothing
    Given the charger is online
    When the central system sends the local list version 2:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
    And the central system sends the local list version 3:
      | id tag   | status   |
      | 04C0FFEE | Accepted |
      | 04DEAD00 |          |
    Then the charger answers "Failed"
    And the local list version is 2
