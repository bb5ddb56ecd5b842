"""heat_wsgi: serve OpenStack Heat's APIs under real web servers, scaled out."""
