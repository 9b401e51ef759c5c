Feature: The transaction message queue
  StartTransaction, StopTransaction and the MeterValues of a transaction travel through one
  persistent queue (OCPP 1.6 §3.7, §4.8 and errata E-3.18): they reach the central system in the
  order the events happened, exactly once, each with the time of its event rather than the time it
  was sent. While the charger is offline they wait, and the waiting consumes no delivery attempts.
  Messages of a transaction started offline carry the transactionId of its late
  StartTransaction.conf (§4.8). Other messages, Authorize and StatusNotification, may overtake the
  queue; a newer transaction may not.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
      | 04B0B0B0 | Accepted |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"

  @network
  Scenario: A session charged offline is reported in order, with the times it happened
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 3 seconds pass
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 3 seconds pass
    And the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
    And the StartTransaction carries the time charging started, not the time it was sent
    And the StopTransaction carries the time the transaction ended, not the time it was sent
    And the last StopTransaction carries transaction id 1
    And every transaction is reported exactly once

  @network
  Scenario: Meter values sampled offline arrive in order, with the transaction's id
    Given the configuration key "MeterValueSampleInterval" is "3"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 10 seconds pass
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | MeterValues      |          |        |
      | MeterValues      |          |        |
      | StopTransaction  |          | Local  |
    And the MeterValues of the transaction are in chronological order, 3 seconds apart
    And every transaction is reported exactly once

  @network
  Scenario: A transaction started just after the reconnect waits for the older queue
    Given the charger is online
    When the central system answers StartTransaction with a CallError 1 times
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    And the network is restored
    Then the charger is back online within 30 seconds
    When the EV is plugged in
    And the card "04B0B0B0" is presented
    And the EV asks for charge
    Then charging starts within 10 seconds
    And the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
      | StartTransaction | 04B0B0B0 |        |
    When the card "04B0B0B0" is presented
    Then charging stops within 5 seconds
    And the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04B0B0B0 |        |
      | StopTransaction  |          | Local  |
    And the central system has received exactly 2 StopTransaction
    And every transaction is reported exactly once

  @network
  Scenario: Time spent offline consumes no delivery attempts
    Given the configuration key "TransactionMessageAttempts" is "1"
    And the configuration key "TransactionMessageRetryInterval" is "1"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 8 seconds pass
    And the network is restored
    Then the central system receives a StartTransaction for "04A1B2C3" within 30 seconds
    And the central system has received exactly 1 StartTransaction
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 15 seconds
    And the last StopTransaction carries transaction id 1
    And every transaction is reported exactly once

  @network
  Scenario: Two sessions charged offline are delivered session by session
    Given the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When the EV is unplugged
    And the EV is plugged in
    And the card "04B0B0B0" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04B0B0B0" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | StopTransaction  |          | Local  |
      | StartTransaction | 04B0B0B0 |        |
      | StopTransaction  |          | Local  |
    And every transaction is reported exactly once

  Scenario: Meter values of an online transaction carry its id, at the sample interval
    Given the configuration key "MeterValueSampleInterval" is "2"
    And the charger is online
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And charging continues for 7 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    And the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04A1B2C3 |        |
      | MeterValues      |          |        |
      | MeterValues      |          |        |
      | StopTransaction  |          | Local  |
    And the MeterValues of the transaction are in chronological order, 2 seconds apart
    And the transaction delivered between 5 and 12 Wh
    And every transaction is reported exactly once

  @network
  Scenario: Meter values from before and after a reconnect stay in order
    Given the configuration key "MeterValueSampleInterval" is "2"
    And the charger is online
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the EV draws 16 A
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 5 seconds pass
    And the network is restored
    Then the central system receives a StartTransaction for "04A1B2C3" within 30 seconds
    And charging continues for 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 10 seconds
    And the MeterValues of the transaction are in chronological order, 2 seconds apart
    And every transaction is reported exactly once
