x ~
