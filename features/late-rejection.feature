Feature: Late rejection of a transaction started offline
  A transaction started offline is only checked by the central system when its StartTransaction
  arrives after the reconnect (OCPP 1.6 §3.5.4, §9.1.14, §9.1.24, errata E-3.5). If the
  confirmation is not Accepted and the transaction is still running: with StopTransactionOnInvalidId
  true the charger stops it with reason DeAuthorized and keeps the cable locked until the same card
  comes back; with false it stops delivering energy (SuspendedEVSE) once MaxEnergyOnInvalidId Wh
  have gone through, and the transaction stays open until it is stopped normally. If the
  transaction had already ended, only the authorization cache learns the verdict.

  Card 04FACE01 is unknown to the central system; 04B0B0B0 is another unknown card.

  Background:
    Given the charger uses RFID authorization
    And the configuration key "AllowOfflineTxForUnknownId" is "true"

  @network
  Scenario Outline: A late <status> stops the transaction as DeAuthorized
    Given the charger is online
    When the central system answers StartTransaction with "<status>"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04FACE01" within 30 seconds
    And charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "DeAuthorized" within 10 seconds
    And the connector status is "Finishing"
    And the connector stays locked
    And every transaction is reported exactly once

    Examples:
      | status       |
      | Invalid      |
      | Blocked      |
      | Expired      |
      | ConcurrentTx |

  @network
  Scenario: After a late rejection the cable stays locked until the same card comes back
    Given the charger is online
    When the central system answers StartTransaction with "Invalid"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StopTransaction with reason "DeAuthorized" within 30 seconds
    When the card "04B0B0B0" is presented
    And 2 seconds pass
    Then the connector stays locked
    When the card "04FACE01" is presented
    Then the connector unlocks within 5 seconds

  @network
  Scenario: With StopTransactionOnInvalidId false a late rejection suspends the transaction
    Given the configuration key "StopTransactionOnInvalidId" is "false"
    And the configuration key "MaxEnergyOnInvalidId" is "0"
    And the charger is online
    When the central system answers StartTransaction with "Invalid"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04FACE01" within 30 seconds
    And charging stops within 5 seconds
    And the connector status is "SuspendedEVSE"
    And the central system receives no StopTransaction for 5 seconds
    When the card "04FACE01" is presented
    Then the central system receives a StopTransaction with reason "Local" within 10 seconds
    And every transaction is reported exactly once

  @network
  Scenario: MaxEnergyOnInvalidId lets the configured energy through before suspending
    Given the configuration key "StopTransactionOnInvalidId" is "false"
    And the configuration key "MaxEnergyOnInvalidId" is "20"
    And the charger is online
    When the central system answers StartTransaction with "Invalid"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04FACE01" within 30 seconds
    And charging stops within 45 seconds
    And the connector status is "SuspendedEVSE"
    When the card "04FACE01" is presented
    Then the central system receives a StopTransaction with reason "Local" within 10 seconds
    And the transaction delivered between 18 and 26 Wh
    And every transaction is reported exactly once

  @network
  Scenario: A late rejection of a finished transaction only teaches the cache
    Given the charger is online
    When the central system answers StartTransaction with "Blocked"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04FACE01" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    And the network is restored
    Then the central system receives a StopTransaction with reason "Local" within 30 seconds
    And the central system has received exactly 1 StopTransaction
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  @network
  Scenario: With StopTransactionOnInvalidId true the energy allowance does not apply
    Given the configuration key "MaxEnergyOnInvalidId" is "1000"
    And the charger is online
    When the central system answers StartTransaction with "Blocked"
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04FACE01" within 30 seconds
    And charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "DeAuthorized" within 10 seconds
    And every transaction is reported exactly once
