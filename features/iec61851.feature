@timing
Feature: IEC 61851 control pilot and contactor timing
  The contactor follows the control pilot (IEC 61851-1 Annex A): it closes only in state C (or D)
  with an authorized transaction, within 3 s of the EV asking for charge; it never closes in
  state B; it opens within 100 ms when the EV goes from C back to B, and at once on the error
  states E and F. Times are measured on the board's own clock, from the pilot change it saw to the
  contactor event it reported.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented

  Scenario: The contactor never closes in state B
    Then charging does not start within 5 seconds

  Scenario: The contactor closes within 3 s of state C with an authorized transaction
    When the EV asks for charge
    Then charging starts within 3 seconds

  Scenario: The contactor opens within 100 ms when the EV pauses
    When the EV asks for charge
    Then charging starts within 3 seconds
    When the EV pauses charging
    Then the contactor opens within 100 ms

  Scenario Outline: The contactor opens on the error state <state>
    When the EV asks for charge
    Then charging starts within 3 seconds
    When the control pilot goes to state <state>
    Then the contactor opens within 100 ms

    Examples:
      | state |
      | E     |
      | F     |

  Scenario: Unplugging while charging opens the contactor
    When the EV asks for charge
    Then charging starts within 3 seconds
    When the EV is unplugged
    Then the contactor opens within 100 ms
