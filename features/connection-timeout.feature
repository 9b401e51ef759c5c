Feature: Authorization without a plug-in expires
  A card presented before the EV is plugged in authorizes the connector only for
  ConnectionTimeOut seconds (OCPP 1.6 §9.1.6, errata E-3.76); then the connector returns to
  Available and plugging in no longer starts a transaction.

  Scenario: An authorization expires after ConnectionTimeOut
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the configuration key "ConnectionTimeOut" is "5"
    And the charger is online
    When the card "04A1B2C3" is presented
    Then the central system receives a StatusNotification "Preparing" within 5 seconds
    And the central system receives a StatusNotification "Available" within 15 seconds
    When the EV is plugged in
    And the EV asks for charge
    Then charging does not start within 5 seconds
    And the central system has received exactly 0 StartTransaction
