from postfix_tls import run

run()
