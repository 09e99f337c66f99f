from newsletters import create_app

app = create_app()
